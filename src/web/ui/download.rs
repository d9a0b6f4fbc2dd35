//! The browser half of the exports: saving bytes or a data URL as a download, serialising a
//! drawn SVG chart with its computed styles inline, rasterising an SVG document to PNG, and
//! reading the page's theme. What is written comes from `pure::export`.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, CanvasRenderingContext2d, Element, HtmlAnchorElement, HtmlCanvasElement,
    HtmlImageElement, Url, XmlSerializer,
};

use crate::pure::export::SvgTheme;
use crate::web::platform::js::js_error_text;

/// The presentation properties copied inline onto each element of an exported SVG chart, so
/// the file looks the same without the page's stylesheet.
const INLINE_PROPERTIES: [&str; 13] = [
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "stroke-opacity",
    "opacity",
    "font-family",
    "font-size",
    "font-weight",
    "font-style",
    "text-anchor",
    "visibility",
];

/// Turns a thrown value into an error string.
fn js_err(value: JsValue) -> String {
    js_error_text(&value)
}

fn document() -> Result<web_sys::Document, String> {
    web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(|| "no document".to_owned())
}

/// Creates an element of the document as its web-sys type (`what` names it in the error).
fn create<T: JsCast>(document: &web_sys::Document, tag: &str, what: &str) -> Result<T, String> {
    document
        .create_element(tag)
        .map_err(js_err)?
        .dyn_into::<T>()
        .map_err(|_| format!("could not create {what}"))
}

/// Starts a download of `url` under `file_name` (an `<a download>` click).
pub fn save_url(url: &str, file_name: &str) -> Result<(), String> {
    let document = document()?;
    let anchor: HtmlAnchorElement = create(&document, "a", "a link")?;
    anchor.set_href(url);
    anchor.set_download(file_name);
    anchor.set_rel("noopener");
    let body = document.body().ok_or_else(|| "no body".to_owned())?;
    body.append_child(&anchor).map_err(js_err)?;
    anchor.click();
    anchor.remove();
    Ok(())
}

/// Starts a download of `bytes` (of type `mime`) under `file_name`.
pub fn save_bytes(bytes: &[u8], mime: &str, file_name: &str) -> Result<(), String> {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(js_err)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(js_err)?;
    let saved = save_url(&url, file_name);
    // Revoke later: the download reads the URL after this event handler returns.
    if let Some(window) = web_sys::window() {
        let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ignored = Url::revoke_object_url(&url);
        });
        let _ignored = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    }
    saved
}

/// Reads the page's theme (CSS variables `--card`, `--ink`, `--muted`, `--sans`), so an
/// exported figure looks like the chart on screen in light and dark mode.
pub fn current_theme() -> SvgTheme {
    let fallback = SvgTheme::default();
    let Some(style) = web_sys::window().and_then(|window| {
        let root = window.document()?.document_element()?;
        window.get_computed_style(&root).ok().flatten()
    }) else {
        return fallback;
    };
    let read = |name: &str, default: &str| {
        style
            .get_property_value(name)
            .ok()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    SvgTheme {
        background: read("--card", &fallback.background),
        text: read("--ink", &fallback.text),
        muted: read("--muted", &fallback.muted),
        font_family: read("--sans", &fallback.font_family),
    }
}

/// A drawn SVG chart, ready for `pure::export::chart_svg`.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialisedChart {
    /// The chart's coordinate width (its `viewBox`).
    pub width: f64,
    /// The chart's coordinate height.
    pub height: f64,
    /// The chart's children as markup, every element's computed styles inline.
    pub body: String,
}

/// Serialises an `<svg>` drawn on the page: its children as markup, with each element's
/// computed presentation styles (fill, stroke, font and a few more) written into a `style`
/// attribute.
pub fn serialise_svg_chart(svg: &Element) -> Result<SerialisedChart, String> {
    let window = web_sys::window().ok_or_else(|| "no window".to_owned())?;
    let clone = svg
        .clone_node_with_deep(true)
        .map_err(js_err)?
        .dyn_into::<Element>()
        .map_err(|_| "the chart is not an element".to_owned())?;
    let originals = svg.query_selector_all("*").map_err(js_err)?;
    let copies = clone.query_selector_all("*").map_err(js_err)?;
    for index in 0..originals.length().min(copies.length()) {
        let (Some(original), Some(copy)) = (
            originals
                .item(index)
                .and_then(|n| n.dyn_into::<Element>().ok()),
            copies
                .item(index)
                .and_then(|n| n.dyn_into::<Element>().ok()),
        ) else {
            continue;
        };
        let Ok(Some(style)) = window.get_computed_style(&original) else {
            continue;
        };
        let inline: String = INLINE_PROPERTIES
            .iter()
            .filter_map(|name| {
                let value = style.get_property_value(name).ok()?;
                let value = value.trim();
                (!value.is_empty()).then(|| format!("{name}:{value};"))
            })
            .collect();
        let _ignored = copy.set_attribute("style", &inline);
        let _ignored = copy.remove_attribute("class");
    }
    let (width, height) = svg
        .get_attribute("viewBox")
        .and_then(|view_box| {
            let numbers: Vec<f64> = view_box
                .split_whitespace()
                .filter_map(|part| part.parse().ok())
                .collect();
            Some((*numbers.get(2)?, *numbers.get(3)?))
        })
        .ok_or_else(|| "the chart has no viewBox".to_owned())?;
    let serializer = XmlSerializer::new().map_err(js_err)?;
    let children = clone.children();
    let mut body = String::new();
    for index in 0..children.length() {
        if let Some(child) = children.item(index) {
            body.push_str(&serializer.serialize_to_string(&child).map_err(js_err)?);
            body.push('\n');
        }
    }
    Ok(SerialisedChart {
        width,
        height,
        body,
    })
}

/// Draws an SVG document on a canvas `scale` times its size and returns it as a PNG data URL.
pub async fn svg_to_png_data_url(
    svg_text: &str,
    width: f64,
    height: f64,
    scale: f64,
) -> Result<String, String> {
    let document = document()?;
    let image = HtmlImageElement::new().map_err(js_err)?;
    let loaded = js_sys::Promise::new(&mut |resolve, reject| {
        image.set_onload(Some(&resolve));
        image.set_onerror(Some(&reject));
    });
    let encoded = String::from(js_sys::encode_uri_component(svg_text));
    image.set_src(&format!("data:image/svg+xml;charset=utf-8,{encoded}"));
    JsFuture::from(loaded)
        .await
        .map_err(|_| "the browser could not draw the SVG".to_owned())?;
    let canvas: HtmlCanvasElement = create(&document, "canvas", "a canvas")?;
    let (width_px, height_px) = ((width * scale).round(), (height * scale).round());
    // Chart sizes are small positive numbers, so the conversions are exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    {
        canvas.set_width(width_px.max(1.0) as u32);
        canvas.set_height(height_px.max(1.0) as u32);
    }
    let context = context_2d(&canvas)?;
    context
        .draw_image_with_html_image_element_and_dw_and_dh(&image, 0.0, 0.0, width_px, height_px)
        .map_err(js_err)?;
    canvas.to_data_url_with_type("image/png").map_err(js_err)
}

/// The 2-D context of a canvas.
pub fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, String> {
    canvas
        .get_context("2d")
        .map_err(js_err)?
        .and_then(|context| context.dyn_into::<CanvasRenderingContext2d>().ok())
        .ok_or_else(|| "no 2-D canvas context".to_owned())
}

/// Returns the heatmap canvas' cells as a PNG data URL, each cell `scale_x × scale_y` pixels
/// (nearest neighbour), so a figure drawn from it stays crisp.
pub fn upscaled_cells_png(
    cells: &HtmlCanvasElement,
    scale_x: u32,
    scale_y: u32,
) -> Result<String, String> {
    if scale_x <= 1 && scale_y <= 1 {
        return cells.to_data_url_with_type("image/png").map_err(js_err);
    }
    let document = document()?;
    let canvas: HtmlCanvasElement = create(&document, "canvas", "a canvas")?;
    let width = cells.width().saturating_mul(scale_x.max(1));
    let height = cells.height().saturating_mul(scale_y.max(1));
    canvas.set_width(width);
    canvas.set_height(height);
    let context = context_2d(&canvas)?;
    context.set_image_smoothing_enabled(false);
    context
        .draw_image_with_html_canvas_element_and_dw_and_dh(
            cells,
            0.0,
            0.0,
            f64::from(width),
            f64::from(height),
        )
        .map_err(js_err)?;
    canvas.to_data_url_with_type("image/png").map_err(js_err)
}
