//! A hover tooltip positioned inside its chart.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::MouseEvent;

/// Where the pointer is, relative to the element that handles the event, and that
/// element's drawn size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointerPosition {
    /// Pixels from the element's left edge.
    pub x_px: f64,
    /// Pixels from the element's top edge.
    pub y_px: f64,
    /// The element's drawn width.
    pub width_px: f64,
    /// The element's drawn height.
    pub height_px: f64,
}

/// Reads the pointer position relative to the event's current target.
pub fn pointer_position(event: &MouseEvent) -> Option<PointerPosition> {
    let target = event
        .current_target()?
        .dyn_into::<web_sys::Element>()
        .ok()?;
    let rect = target.get_bounding_client_rect();
    Some(PointerPosition {
        x_px: f64::from(event.client_x()) - rect.left(),
        y_px: f64::from(event.client_y()) - rect.top(),
        width_px: rect.width(),
        height_px: rect.height(),
    })
}

/// The text of a tooltip and where to show it (pixels inside the chart's box).
#[derive(Debug, Clone, PartialEq)]
pub struct TooltipContent {
    /// Pixels from the chart box's left edge.
    pub x_px: f64,
    /// Pixels from the chart box's top edge.
    pub y_px: f64,
    /// One line per entry.
    pub lines: Vec<String>,
}

/// Draws a tooltip when there is content.
#[component]
pub fn Tooltip(content: RwSignal<Option<TooltipContent>>) -> impl IntoView {
    view! {
        {move || {
            content.get().map(|c| {
                let style = format!("left: {:.0}px; top: {:.0}px;", c.x_px + 14.0, c.y_px + 14.0);
                view! {
                    <div class="tooltip" data-testid="tooltip" style=style>
                        {c.lines.into_iter().map(|line| view! { <div>{line}</div> }).collect_view()}
                    </div>
                }
            })
        }}
    }
}
