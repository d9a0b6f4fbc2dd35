//! The views beyond the notebook, for the full analysis: scree and cumulative energy,
//! position cosine similarity, the pair scatter and the 3-D view, per-position norms, right
//! singular vectors, and dominant periods.
//!
//! Everything here waits until the notebook's results are drawn: the matrix is decoded, the
//! cards mount and the heavier results (norms, rows of Vᵀ, periods) are computed a few at a
//! time, each in a browser task of its own (see `stages`), so the page never freezes.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use nalgebra::DMatrix;

use crate::pure::analysis::SvdSummary;
use crate::pure::views::frequency::{frequency_table, FrequencyPeak};
use crate::pure::views::projection::add_row_squares;
use crate::pure::views::right_vectors::{
    dims_for_mass, right_singular_vector, RightVectors, DEFAULT_MASS_SHARE,
};
use crate::web::run::state::AppState;
use crate::web::ui::cosine_view::CosineView;
use crate::web::ui::frequency_view::FrequencyView;
use crate::web::ui::norms_view::NormsView;
use crate::web::ui::projection_view::{OrbitPlot, PairPlot};
use crate::web::ui::right_vectors_view::RightVectorsView;
use crate::web::ui::spectrum_view::SpectrumViews;
use crate::web::ui::stages::{enqueue, Gate, ELEMENTS_PER_STEP};
use crate::web::ui::view_data::view_input;

/// How many steps the cards mount in, one browser task each.
const MOUNT_STAGES: usize = 7;

/// Rows of Vᵀ computed in one queued step: each row reads the whole matrix once, so large
/// matrices take one row per step (a few milliseconds' work per [`ELEMENTS_PER_STEP`]).
fn vt_rows_per_step(w: &DMatrix<f64>) -> usize {
    (4 * ELEMENTS_PER_STEP / (w.nrows() * w.ncols()).max(1)).max(1)
}

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

    // The cards mount one per queued step, after the views' input is built; a new analysis
    // unmounts them and mounts them again the same way.
    let stage = RwSignal::new(0_usize);
    let stage_generation = StoredValue::new(0_u32);
    Effect::new(move |_| {
        // Only the arrival of a new input is tracked here.
        let ready = input.with(|i| matches!(i, Some(Ok(_))));
        let this_generation = stage_generation.get_value().wrapping_add(1);
        stage_generation.set_value(this_generation);
        stage.set(0);
        if !ready {
            return;
        }
        for next in 1..=MOUNT_STAGES {
            enqueue(state, Gate::Views, move || {
                if stage_generation.try_get_value() == Some(this_generation) {
                    let _ignored = stage.try_set(next);
                }
            });
        }
    });
    let from_stage = move |n: usize| stage.get() >= n;

    let norms = RwSignal::new(Vec::<f64>::new());
    let peaks = RwSignal::new(Vec::<FrequencyPeak>::new());
    let right = RwSignal::new(None::<RightVectors>);
    let generation = StoredValue::new(0_u32);
    // Only the first stage matters here, not the later ones.
    let started = Memo::new(move |_| from_stage(1));
    Effect::new(move |_| {
        if !started.get() {
            return;
        }
        let (Some(matrix), Some(summary)) = (w.get(), summary.get()) else {
            return;
        };
        let this_generation = generation.get_value().wrapping_add(1);
        generation.set_value(this_generation);
        right.set(None);
        let is_current = move || generation.try_get_value() == Some(this_generation);
        {
            // Each row's squares, summed a band of columns per queued step.
            let squares = Rc::new(RefCell::new(vec![0.0_f64; matrix.nrows()]));
            let band_cols = (ELEMENTS_PER_STEP / matrix.nrows().max(1)).max(1);
            for first in (0..matrix.ncols()).step_by(band_cols) {
                let (matrix, squares) = (Arc::clone(&matrix), Rc::clone(&squares));
                enqueue(state, Gate::Views, move || {
                    if is_current() {
                        add_row_squares(
                            &matrix,
                            first..first + band_cols,
                            &mut squares.borrow_mut(),
                        );
                    }
                });
            }
            enqueue(state, Gate::Views, move || {
                if is_current() {
                    let row_norms = squares.borrow().iter().copied().map(f64::sqrt).collect();
                    let _ignored = norms.try_set(row_norms);
                }
            });
        }
        {
            let summary = Arc::clone(&summary);
            enqueue(state, Gate::Views, move || {
                if is_current() {
                    let _ignored =
                        peaks.try_set(frequency_table(&summary.u_top_k, summary.u_top_k.len()));
                }
            });
        }
        // Rows of Vᵀ, a few per queued step, gathered here until the last step.
        let rows = Rc::new(RefCell::new(Some(Vec::<Vec<f64>>::new())));
        let rows_per_step = vt_rows_per_step(&matrix);
        for first in (0..summary.u_top_k.len()).step_by(rows_per_step) {
            let (matrix, summary, rows) =
                (Arc::clone(&matrix), Arc::clone(&summary), Rc::clone(&rows));
            enqueue(state, Gate::Views, move || {
                if !is_current() {
                    return;
                }
                let mut rows = rows.borrow_mut();
                let Some(done) = rows.as_mut() else {
                    return;
                };
                if done.len() < first {
                    // An earlier step stopped (no more usable vectors).
                    return;
                }
                for index in first..first + rows_per_step {
                    match right_singular_vector(&matrix, &summary, index) {
                        Ok(Some(row)) => done.push(row),
                        _ => break,
                    }
                }
            });
        }
        enqueue(state, Gate::Views, move || {
            if !is_current() {
                return;
            }
            let Some(rows) = rows.borrow_mut().take() else {
                return;
            };
            let dims_for_share = rows
                .iter()
                .map(|v| dims_for_mass(v, DEFAULT_MASS_SHARE))
                .collect();
            let _ignored = right.try_set(Some(RightVectors {
                rows,
                dims_for_share,
                mass_share: DEFAULT_MASS_SHARE,
            }));
        });
    });

    view! {
        <div class="views-section">
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
        </div>
    }
}
