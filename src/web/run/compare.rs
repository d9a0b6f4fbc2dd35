//! Compared models: each entry of the `compare` setting is opened on the Hub, its positional
//! embedding read by ranges and analysed in the same workers, one model at a time and only
//! while the main analysis is not using them. A failure stays in that model's row.

use super::errors::{capitalise, describe_source_error};
use super::handle::{CompareQueueTurn, Lane, RunHandle};
use super::pipeline::job_spec;
use super::save::{save_hub_tensor, HubPlace, SaveFor};
use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::pure::analysis::SvdSummary;
use crate::pure::url_state::{CompareEntry, ViewSettings};
use crate::web::io::source::{self, HubRequest, RunContext, SourceError};
use crate::web::run::state::{analysis_options, AppState, CompareRow, CompareState, Status};
use crate::web::workers::bridge::{self, WorkerError};

/// Why one compared model has no result (yet).
pub(super) enum CompareFailure {
    /// The main analysis needs the workers; the model is analysed after it.
    Deferred,
    /// The model cannot be analysed; the message says why and what to do.
    Failed(String),
}

/// The settings that shape a compared model's analysis, as one comparable text.
pub fn compare_analysis_key(settings: &ViewSettings) -> String {
    format!(
        "{}|{}|{}|{}",
        settings.hub, settings.k_vectors, settings.center_rows, settings.skip_offset
    )
}

/// Brings the compare rows in line with the settings (keeping finished rows that still
/// apply) and analyses the rows still loading, unless the main analysis is running.
pub fn sync_compare(state: AppState) {
    let settings = state.settings.get_untracked();
    let key = compare_analysis_key(&settings);
    let current = state.compare_rows.get_untracked();
    let next: Vec<CompareRow> = settings
        .compare
        .iter()
        .map(|entry| {
            current
                .iter()
                .find(|row| row.entry == *entry && row.analysis_key == key)
                .cloned()
                .unwrap_or_else(|| CompareRow {
                    entry: entry.clone(),
                    analysis_key: key.clone(),
                    state: CompareState::Loading,
                    commit_sha: None,
                    tensor_name: None,
                    summary: None,
                })
        })
        .collect();
    if next != current {
        state.compare_rows.set(next);
    }
    if matches!(state.status.get_untracked(), Status::Loading { .. }) {
        return;
    }
    let Some(turn) = CompareQueueTurn::take() else {
        return;
    };
    spawn_local(async move {
        run_compare_queue(state).await;
        drop(turn);
    });
}

/// Analyses the loading rows one after another until none is left or the main analysis
/// needs the workers.
pub(super) async fn run_compare_queue(state: AppState) {
    loop {
        let settings = state.settings.get_untracked();
        let key = compare_analysis_key(&settings);
        let next = state.compare_rows.with_untracked(|rows| {
            rows.iter()
                .find(|row| row.state == CompareState::Loading && row.analysis_key == key)
                .map(|row| row.entry.clone())
        });
        let Some(entry) = next else {
            return;
        };
        let outcome = analyse_compared(state, &settings, &entry).await;
        let update = |row: &CompareRow| row.entry == entry && row.analysis_key == key;
        match outcome {
            Err(CompareFailure::Deferred) => return,
            Err(CompareFailure::Failed(message)) => state.compare_rows.update(|rows| {
                for row in rows.iter_mut().filter(|row| update(row)) {
                    row.state = CompareState::Error(message.clone());
                }
            }),
            Ok((commit_sha, tensor_name, summary)) => state.compare_rows.update(|rows| {
                for row in rows.iter_mut().filter(|row| update(row)) {
                    row.state = CompareState::Ready;
                    row.commit_sha = commit_sha.clone();
                    row.tensor_name = Some(tensor_name.clone());
                    row.summary = Some(std::sync::Arc::new(summary.clone()));
                }
            }),
        }
    }
}

/// Opens one compared model on the Hub, reads its positional embedding by ranges and
/// analyses it (whole matrix, nothing dropped) with the main settings.
pub(super) async fn analyse_compared(
    state: AppState,
    settings: &ViewSettings,
    entry: &CompareEntry,
) -> Result<(Option<String>, String, SvdSummary), CompareFailure> {
    let failed = |err: SourceError| match describe_source_error(&err) {
        Some(info) => CompareFailure::Failed(format!("{}: {}", info.title, info.message)),
        None => CompareFailure::Deferred,
    };
    let handle = RunHandle::start(Lane::Compare).ok_or_else(|| {
        CompareFailure::Failed(
            "This browser cannot cancel downloads. Use a current browser.".to_owned(),
        )
    })?;
    let run = RunContext {
        signal: handle.signal(),
        repo: entry.repo.clone(),
        network_bytes: Rc::new(Cell::new(0)),
        on_progress: Rc::new(|_: &str, _, _| {}),
        on_note: Rc::new(|_: &str| {}),
        whole_stream: Cell::new(None),
    };
    let request = HubRequest {
        hub: &settings.hub,
        repo: &entry.repo,
        rev: entry.rev_or_default(),
        file: None,
        tensor: None,
    };
    // Compared models are kept for offline use like the main one.
    let opened = source::open_hub_with_store(&request, &run, &bridge::warm_up)
        .await
        .map_err(failed)?
        .opened;
    let view = source::choose_matrix(&opened, None).map_err(failed)?;
    let bytes = Rc::new(
        source::read_tensor(&opened, &view, &run, &|_| {})
            .await
            .map_err(failed)?,
    );
    if matches!(opened.source, source::ByteSource::Hub { .. }) {
        let place = HubPlace {
            hub: &settings.hub,
            repo: &entry.repo,
            rev: entry.rev_or_default(),
        };
        save_hub_tensor(state, &opened, &view, &place, &bytes, SaveFor::Compared);
    }
    // The workers belong to the main analysis while it runs.
    if matches!(state.status.get_untracked(), Status::Loading { .. }) {
        return Err(CompareFailure::Deferred);
    }
    let mut options = analysis_options(settings, &view);
    options.drop_count = 0;
    let spec = job_spec(&handle, &view, options);
    match bridge::run_compare_job(&spec, &bytes).await {
        Ok(output) => Ok((opened.commit_sha, view.tensor_name, output.analysis.full)),
        Err(WorkerError::Cancelled(_)) => Err(CompareFailure::Deferred),
        Err(err) => Err(CompareFailure::Failed(capitalise(&err.to_string()))),
    }
}
