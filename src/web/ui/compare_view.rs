//! Models compared side by side: a row per model (the main one first) with its shape, rank
//! at the live threshold, the directions holding 90% and 99% of the energy, σ₀ and commit;
//! the principal angles between its leading position subspace and the main model's; and
//! every model's normalised spectrum σ/σ₀ overlaid on one log chart.

use std::sync::Arc;

use leptos::prelude::*;

use crate::pure::analysis::{approx_rank, SvdSummary};
use crate::pure::chart::log_scale::{decade_bounds, LogScale};
use crate::pure::chart::{
    hovered_index, line_series_colors, polyline_path, Axis, ChartSize, LinearScale,
};
use crate::pure::url_state::{parse_compare_entry, MAX_COMPARE_ENTRIES};
use crate::pure::views::spectrum::{directions_for_energy, normalized_spectrum};
use crate::pure::views::subspace::{mean_cos_squared, principal_angles};
use crate::web::run as actions;
use crate::web::run::state::{AppState, CompareState, SourceKind, Status};
use crate::web::ui::chart_frame::{ChartFrame, SvgPlot};

/// The chart's drawing box.
const SIZE: ChartSize = ChartSize::STANDARD
    .with_width(720.0)
    .with_height(320.0)
    .with_left(64.0);
/// How many leading left singular vectors span the subspaces compared.
const SUBSPACE_K: usize = 10;

/// One row of the table, main model or compared.
#[derive(Debug, Clone, PartialEq)]
struct RowView {
    /// The model's repository (or file name for a local main model).
    repo: String,
    /// The revision asked for, when one was given.
    rev: Option<String>,
    /// What the row shows as the model's name.
    label: String,
    /// `loading`, `ready` or `error`.
    state: &'static str,
    /// The failure, if any.
    message: Option<String>,
    /// The commit analysed, when known.
    commit_sha: Option<String>,
    /// The analysis, once ready.
    summary: Option<Arc<SvdSummary>>,
    /// Whether this is a compared entry (removable), with its index.
    compare_index: Option<usize>,
}

/// The comparison card.
#[component]
pub fn CompareSection() -> impl IntoView {
    let state = expect_context::<AppState>();
    let draft = RwSignal::new(String::new());
    let add_note = RwSignal::new(None::<String>);

    // New entries, new analysis settings, or the workers becoming free: analyse what is due.
    Effect::new(move |_| {
        state.settings.with(|s| {
            let _tracked = (s.compare.clone(), actions::compare_analysis_key(s));
        });
        let _status = state.status.with(|s| s.as_str());
        actions::sync_compare(state);
    });

    let main_summary = Memo::new(move |_| {
        state
            .result
            .with(|r| r.as_ref().map(|r| Arc::new(r.analysis.full.clone())))
    });
    let rows = Memo::new(move |_| {
        let main_state = match state.status.get() {
            Status::Ready => "ready",
            Status::Error(_) => "error",
            _ => "loading",
        };
        let main_repo = state
            .file_info
            .with(|info| match info.as_ref().map(|i| &i.kind) {
                Some(SourceKind::Local(name)) => name.clone(),
                Some(SourceKind::Sample) => "built-in sample".to_owned(),
                _ => state.settings.with(|s| s.repo.clone()),
            });
        let main_message = match state.status.get() {
            Status::Error(info) => Some(info.message),
            _ => None,
        };
        let main_rev = state
            .file_info
            .with(|info| match info.as_ref().map(|i| &i.kind) {
                Some(SourceKind::Hub) | None => state.settings.with(|s| Some(s.rev.clone())),
                _ => None,
            });
        let mut rows = vec![RowView {
            label: main_repo.clone(),
            repo: main_repo,
            rev: main_rev,
            state: main_state,
            message: main_message,
            commit_sha: state
                .file_info
                .with(|i| i.as_ref().and_then(|i| i.commit_sha.clone())),
            summary: if main_state == "ready" {
                main_summary.get()
            } else {
                None
            },
            compare_index: None,
        }];
        rows.extend(
            state
                .compare_rows
                .get()
                .into_iter()
                .enumerate()
                .map(|(index, row)| RowView {
                    repo: row.entry.repo.clone(),
                    rev: row.entry.rev.clone(),
                    label: row.entry.spelling(),
                    state: row.state.as_str(),
                    message: match &row.state {
                        CompareState::Error(message) => Some(message.clone()),
                        _ => None,
                    },
                    commit_sha: row.commit_sha.clone(),
                    summary: row.summary.clone(),
                    compare_index: Some(index),
                }),
        );
        rows
    });
    let threshold = move || state.settings.with(|s| s.threshold_rel);

    let on_add = move |_| {
        let text = draft.get_untracked();
        let mut added = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match parse_compare_entry(part) {
                Ok(entry) => added.push(entry),
                Err(why) => {
                    add_note.set(Some(format!("`{part}` cannot be compared: {why}. Give a Hub repository such as gpt2-medium or owner/name@revision.")));
                    return;
                }
            }
        }
        let previous = state.settings.get_untracked();
        let mut next = previous.clone();
        for entry in added {
            if !next.compare.contains(&entry) {
                next.compare.push(entry);
            }
        }
        if next.compare.len() > MAX_COMPARE_ENTRIES {
            add_note.set(Some(format!(
                "At most {MAX_COMPARE_ENTRIES} models can be compared; remove one first."
            )));
            return;
        }
        add_note.set(None);
        draft.set(String::new());
        if next != previous {
            actions::write_url(&next, true);
            state.settings.set(next);
        }
    };
    let remove = move |index: usize| {
        let mut next = state.settings.get_untracked();
        if index < next.compare.len() {
            next.compare.remove(index);
            actions::write_url(&next, true);
            state.settings.set(next);
        }
    };

    // The overlaid spectra.
    let area = SIZE.area();
    let spectra = Memo::new(move |_| {
        let series: Vec<(String, Vec<f64>)> = rows
            .get()
            .into_iter()
            .filter_map(|row| {
                row.summary
                    .map(|s| (row.label, normalized_spectrum(&s.singular_values)))
            })
            .collect();
        let longest = series.iter().map(|(_, v)| v.len()).max().unwrap_or(1);
        let smallest = series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .filter(|v| *v > 0.0)
            .fold(1.0_f64, f64::min);
        let (lo, hi) = decade_bounds(smallest, 1.0);
        let x_scale = area.x_scale((0.0, (longest.max(2) - 1) as f64));
        let y_scale = LogScale::new((lo, hi), (area.bottom(), area.top()));
        let y_linear = LinearScale::new((lo.log10(), hi.log10()), (area.bottom(), area.top()));
        let colors = line_series_colors(series.len());
        let paths: Vec<(String, String, String)> = series
            .iter()
            .zip(colors)
            .map(|((name, values), color)| {
                let xs: Vec<f64> = (0..values.len()).map(|i| i as f64).collect();
                let ys: Vec<f64> = values
                    .iter()
                    .map(|&v| if v > 0.0 { v.log10() } else { f64::NAN })
                    .collect();
                (
                    name.clone(),
                    color,
                    polyline_path(&xs, &ys, &x_scale, &y_linear),
                )
            })
            .collect();
        let axes = vec![
            Axis::log_left(&y_scale, "σ/σ₀ (log scale)"),
            Axis::bottom(&x_scale, 8, "direction index"),
        ];
        (series, x_scale, axes, paths, longest)
    });
    let hover = Callback::new(move |(x, _): (f64, f64)| {
        spectra.with(|(series, x_scale, _, _, longest)| {
            let xs: Vec<f64> = (0..*longest).map(|i| i as f64).collect();
            let i = hovered_index(&area, &xs, x, |x| x_scale.invert(x))?;
            let mut lines = vec![format!("direction index {i}")];
            for (name, values) in series {
                if let Some(v) = values.get(i) {
                    lines.push(format!("{name}: σ/σ₀ = {v:.6}"));
                }
            }
            Some(lines)
        })
    });
    let legend = move || {
        view! {
            <div class="legend">
                {move || spectra.with(|(_, _, _, paths, _)| paths.iter().map(|(name, color, _)| view! {
                    <span class="legend-item"><span class="swatch" style=format!("background: {color}")></span>{name.clone()}</span>
                }).collect_view())}
            </div>
        }
    };

    view! {
        <h2 class="section-title">"Compare models"</h2>
        <section class="card">
            <div class="compare-add">
                <label class="field grow">
                    <span>"Add models to compare (Hub repo, optionally @revision; commas for several)"</span>
                    <input type="text" data-testid="compare-input" placeholder="gpt2-medium, distilgpt2"
                        prop:value=move || draft.get() on:input=move |e| draft.set(event_target_value(&e))
                        on:keydown=move |e: web_sys::KeyboardEvent| if e.key() == "Enter" { on_add(()); }/>
                </label>
                <button class="primary" data-testid="compare-add" on:click=move |_| on_add(())>"Add"</button>
            </div>
            {move || add_note.get().map(|note| view! { <p class="clip-note" data-testid="compare-note">{note}</p> })}
            <div class="table-scroll" tabindex="0" role="region" aria-label="Compared models">
                <table class="sv-table compare-table" data-testid="compare-table">
                    <thead>
                        <tr>
                            <th>"model"</th><th>"state"</th><th>"shape"</th>
                            <th>{move || format!("rank at {}", threshold())}</th>
                            <th>"directions for 90%"</th><th>"for 99%"</th><th>"σ₀"</th><th>"commit"</th>
                            <th>{format!("position subspace vs the first row (k = {SUBSPACE_K})")}</th><th><span class="visually-hidden">"remove"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {move || {
                            let rows = rows.get();
                            let main = rows.first().and_then(|r| r.summary.clone());
                            let t = threshold();
                            rows.into_iter().enumerate().map(|(i, row)| {
                                let summary = row.summary.clone();
                                let rank = summary.as_ref().map(|s| approx_rank(&s.singular_values, t));
                                let s0 = summary.as_ref().and_then(|s| s.singular_values.first().copied());
                                let dirs = |level: f64| summary.as_ref().map(|s| directions_for_energy(&s.cumulative_energy, level).to_string()).unwrap_or_default();
                                let subspace = match (i, main.as_ref(), summary.as_ref()) {
                                    (0, ..) => "—".to_owned(),
                                    (_, Some(a), Some(b)) if a.n_rows == b.n_rows => match principal_angles(&a.u_top_k, &b.u_top_k, SUBSPACE_K) {
                                        Ok(angles) => {
                                            let degrees: Vec<String> = angles.iter().take(5).map(|a| format!("{:.1}°", a.to_degrees())).collect();
                                            format!("mean cos² {:.3}; angles {}{}", mean_cos_squared(&angles), degrees.join(", "), if angles.len() > 5 { ", …" } else { "" })
                                        }
                                        Err(err) => err.to_string(),
                                    },
                                    (_, Some(a), Some(b)) => format!("not comparable: {} vs {} positions", a.n_rows, b.n_rows),
                                    _ => String::new(),
                                };
                                let mean_cos2 = match (i, main.as_ref(), summary.as_ref()) {
                                    (i, Some(a), Some(b)) if i > 0 && a.n_rows == b.n_rows => principal_angles(&a.u_top_k, &b.u_top_k, SUBSPACE_K).ok().map(|angles| mean_cos_squared(&angles).to_string()),
                                    _ => None,
                                };
                                let commit = row.commit_sha.clone().unwrap_or_default();
                                let short_commit = commit.get(..10).unwrap_or(&commit).to_owned();
                                let remove_button = row.compare_index.map(|index| view! {
                                    <button data-testid="compare-remove" on:click=move |_| remove(index)>"Remove"</button>
                                });
                                view! {
                                    <tr data-testid="compare-row" data-repo=row.repo.clone() data-rev=row.rev.clone().unwrap_or_default() data-state=row.state
                                        data-rank=rank.map(|r| r.to_string()).unwrap_or_default()
                                        data-s0=s0.map(|s| s.to_string()).unwrap_or_default()
                                        data-commit=commit.clone()
                                        data-mean-cos2=mean_cos2.unwrap_or_default()>
                                        <td class="mono">{row.label.clone()}{(i == 0).then_some(" (main)")}</td>
                                        <td>{row.state}{row.message.clone().map(|m| view! { <div class="compare-error">{m}</div> })}</td>
                                        <td>{summary.as_ref().map(|s| format!("{} × {}", s.n_rows, s.n_cols)).unwrap_or_default()}</td>
                                        <td>{rank.map(|r| r.to_string()).unwrap_or_default()}</td>
                                        <td>{dirs(0.9)}</td>
                                        <td>{dirs(0.99)}</td>
                                        <td>{s0.map(|s| format!("{s:.4}")).unwrap_or_default()}</td>
                                        <td class="mono" title=commit.clone()>{short_commit}</td>
                                        <td>{subspace}</td>
                                        <td>{remove_button}</td>
                                    </tr>
                                }
                            }).collect_view()
                        }}
                    </tbody>
                </table>
            </div>
            <p class="caption">"Each compared model is read by ranges from the same Hub and analysed with the same settings (nothing dropped). Principal angles compare the spans of the first left singular vectors where two models have the same number of positions: 0° is a shared direction, 90° an unrelated one; mean cos² is 1 for identical subspaces."</p>
        </section>
        <ChartFrame title="Normalised spectra σ/σ₀".to_owned() what="compare_spectra".to_owned() controls=legend>
            <SvgPlot size=SIZE summary="Normalised singular values σ/σ₀ of the main and compared models, on a log scale".to_owned()
                axes=Signal::derive(move || spectra.with(|s| s.2.clone())) hover=hover class="narrow" attr:data-testid="compare-spectra">
                {move || spectra.with(|(_, _, _, paths, _)| paths.iter().map(|(name, color, d)| view! {
                    <path d=d.clone() stroke=color.clone() fill="none" stroke-width="1.6" data-model=name.clone()></path>
                }).collect_view())}
            </SvgPlot>
        </ChartFrame>
    }
}
