//! The views beyond the notebook, for the full analysis: scree and cumulative energy,
//! position cosine similarity, the pair scatter and the 3-D view, per-position norms, right
//! singular vectors, and dominant periods.
//!
//! The heavier results (norms, rows of Vᵀ, periods) are computed after a yield to the
//! browser and a few at a time, so a new analysis paints at once and the page never freezes.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use nalgebra::DMatrix;

use crate::pure::analysis::SvdSummary;
use crate::pure::views::frequency::{frequency_table, FrequencyPeak};
use crate::pure::views::projection::row_norms;
use crate::pure::views::right_vectors::{
    dims_for_mass, right_singular_vector, RightVectors, DEFAULT_MASS_SHARE,
};
use crate::web::components::cosine_view::CosineView;
use crate::web::components::frequency_view::FrequencyView;
use crate::web::components::norms_view::NormsView;
use crate::web::components::projection_view::{OrbitPlot, PairPlot};
use crate::web::components::right_vectors_view::RightVectorsView;
use crate::web::components::spectrum_view::SpectrumViews;
use crate::web::components::view_data::view_input;
use crate::web::js::sleep_ms;
use crate::web::state::AppState;

/// How many steps the cards mount in, one browser task each.
const MOUNT_STAGES: usize = 7;

/// Rows of Vᵀ computed between two yields to the browser.
const VT_ROWS_PER_STEP: usize = 8;

/// Every view of the full analysis.
#[component]
pub fn ViewsSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let input = view_input(state);
    let w: Signal<Option<Arc<DMatrix<f64>>>> = Signal::derive(move || {
        input.with(|i| {
            i.as_ref()
                .and_then(|i| i.as_ref().ok())
                .map(|i| Arc::clone(&i.w))
        })
    });
    let summary: Signal<Option<Arc<SvdSummary>>> = Signal::derive(move || {
        input.with(|i| {
            i.as_ref()
                .and_then(|i| i.as_ref().ok())
                .map(|i| Arc::clone(&i.summary))
        })
    });
    let problem = move || input.with(|i| i.as_ref().and_then(|i| i.as_ref().err().cloned()));
    let singular_values = Signal::derive(move || {
        summary.with(|s| {
            s.as_ref()
                .map(|s| s.singular_values.clone())
                .unwrap_or_default()
        })
    });
    let cumulative_energy = Signal::derive(move || {
        summary.with(|s| {
            s.as_ref()
                .map(|s| s.cumulative_energy.clone())
                .unwrap_or_default()
        })
    });
    let threshold = Signal::derive(move || state.settings.with(|s| s.threshold_rel));
    let n_positions = Signal::derive(move || summary.with(|s| s.as_ref().map_or(0, |s| s.n_rows)));

    // The cards mount one per browser task, so no single task draws them all; a new analysis
    // unmounts them and mounts them again the same way.
    let stage = RwSignal::new(0_usize);
    let stage_generation = StoredValue::new(0_u32);
    Effect::new(move |_| {
        // Only the arrival of a result is tracked here: decoding waits for the first card.
        state.result.track();
        let this_generation = stage_generation.get_value().wrapping_add(1);
        stage_generation.set_value(this_generation);
        stage.set(0);
        spawn_local(async move {
            for next in 1..=MOUNT_STAGES {
                sleep_ms(0).await;
                if stage_generation.get_value() != this_generation {
                    return;
                }
                stage.set(next);
            }
        });
    });
    let from_stage = move |n: usize| stage.get() >= n;

    let norms = RwSignal::new(Vec::<f64>::new());
    let peaks = RwSignal::new(Vec::<FrequencyPeak>::new());
    let right = RwSignal::new(None::<RightVectors>);
    let generation = StoredValue::new(0_u32);
    Effect::new(move |_| {
        if !from_stage(1) {
            return;
        }
        let (Some(matrix), Some(summary)) = (w.get(), summary.get()) else {
            return;
        };
        let this_generation = generation.get_value().wrapping_add(1);
        generation.set_value(this_generation);
        right.set(None);
        spawn_local(async move {
            let is_current = move || generation.get_value() == this_generation;
            sleep_ms(0).await;
            if !is_current() {
                return;
            }
            norms.set(row_norms(&matrix));
            peaks.set(frequency_table(&summary.u_top_k, summary.u_top_k.len()));
            let mut rows = Vec::new();
            'rows: for first in (0..summary.u_top_k.len()).step_by(VT_ROWS_PER_STEP) {
                sleep_ms(0).await;
                if !is_current() {
                    return;
                }
                for index in first..first + VT_ROWS_PER_STEP {
                    match right_singular_vector(&matrix, &summary, index) {
                        Ok(Some(row)) => rows.push(row),
                        _ => break 'rows,
                    }
                }
            }
            let dims_for_share = rows
                .iter()
                .map(|v| dims_for_mass(v, DEFAULT_MASS_SHARE))
                .collect();
            right.set(Some(RightVectors {
                rows,
                dims_for_share,
                mass_share: DEFAULT_MASS_SHARE,
            }));
        });
    });

    view! {
        <h2 class="section-title">"Beyond the notebook"</h2>
        {move || problem().map(|p| view! { <section class="card notes"><p>{p}</p></section> })}
        <Show when=move || from_stage(1)>
            <SpectrumViews singular_values=singular_values cumulative_energy=cumulative_energy threshold=threshold/>
        </Show>
        <Show when=move || from_stage(2)>
            <CosineView w=w/>
        </Show>
        <section class="pair">
            <Show when=move || from_stage(3)>
                <PairPlot summary=summary/>
            </Show>
            <Show when=move || from_stage(4)>
                <OrbitPlot summary=summary/>
            </Show>
        </section>
        <section class="pair">
            <Show when=move || from_stage(5)>
                <NormsView norms=norms.into()/>
            </Show>
            <Show when=move || from_stage(6)>
                <FrequencyView peaks=peaks.into() n_positions=n_positions/>
            </Show>
        </section>
        <Show when=move || from_stage(7)>
            <RightVectorsView right=right.into()/>
        </Show>
    }
}
