//! Spreads the drawing of results over several browser tasks, so that no single task of the
//! main thread runs long (the Long Tasks API counts every task over 50 ms).
//!
//! Cards put their work on one queue of steps; the queue runs the steps in the order they
//! were queued (page order; the notebook's results before the views), a few milliseconds'
//! worth per browser task, and yields to the browser between tasks: through a
//! `MessageChannel` while results are waiting (unlike a zero-delay timer, it is not clamped
//! to 4 ms when nested), through a timer for the views (which leaves the browser time to
//! render in between). A step that belongs to the notebook's results holds back `data-state="ready"`
//! ([`AppState::drawing_steps`]) until it has run; the views beyond the notebook queue steps
//! that do not.

use std::cell::RefCell;
use std::collections::VecDeque;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::web::platform::js::{now_ms, sleep_ms, yield_to_browser};
use crate::web::platform::perf;
use crate::web::run::state::AppState;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// Matrix elements a step that walks a large matrix (decoding, normalising) reads or writes:
/// a few milliseconds of work.
pub const ELEMENTS_PER_STEP: usize = 1 << 19;

/// How long steps may follow one another in one browser task, in milliseconds. A task runs
/// at most this plus its last step.
const STEP_BUDGET_MS: f64 = 8.0;

/// Whether a step holds back `data-state="ready"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The step draws part of the notebook's results: the page is not ready before it ran.
    Results,
    /// The step draws a view beyond the notebook, which may finish after ready.
    Views,
}

/// One queued step.
struct Step {
    gate: Gate,
    run: Box<dyn FnOnce()>,
}

/// The page's one queue of steps.
struct Queue {
    /// Steps waiting for their browser task, oldest first.
    steps: VecDeque<Step>,
    /// Whether the queue's runner is active.
    running: bool,
}

thread_local! {
    static QUEUE: RefCell<Queue> = const {
        RefCell::new(Queue {
            steps: VecDeque::new(),
            running: false,
        })
    };
}

/// Whether a step of the notebook's results is waiting.
fn results_waiting() -> bool {
    QUEUE.with(|queue| queue.borrow().steps.iter().any(|s| s.gate == Gate::Results))
}

/// Queues `run` for a later browser task. Steps of [`Gate::Results`] hold back
/// `data-state="ready"` until they (and every such step queued before the queue empties)
/// have run.
pub fn enqueue(state: AppState, gate: Gate, run: impl FnOnce() + 'static) {
    if gate == Gate::Results {
        state.drawing_steps.update(|n| *n += 1);
    }
    let idle = QUEUE.with(|queue| {
        let mut queue = queue.borrow_mut();
        queue.steps.push_back(Step {
            gate,
            run: Box::new(run),
        });
        !std::mem::replace(&mut queue.running, true)
    });
    if idle {
        spawn_local(run_queue(state));
    }
}

/// Lets the microtasks queued so far run (the effects a step set off redraw the page in
/// microtasks), then continues in the same browser task.
async fn run_microtasks() {
    let _ignored = JsFuture::from(js_sys::Promise::resolve(&JsValue::UNDEFINED)).await;
}

/// Runs the queue until it is empty: steps follow one another in the same browser task for
/// up to STEP_BUDGET_MS (with the redrawing they set off), then the queue yields.
async fn run_queue(state: AppState) {
    let mut done_results_steps = 0_usize;
    let mut task_started_ms = None::<f64>;
    loop {
        let within_budget =
            task_started_ms.is_some_and(|started| now_ms() - started < STEP_BUDGET_MS);
        if !within_budget {
            if results_waiting() {
                yield_to_browser().await;
            } else {
                // The views wait for a timer: back-to-back message tasks would keep the
                // browser from rendering (and from updating what is on screen) meanwhile.
                sleep_ms(0).await;
            }
            task_started_ms = Some(now_ms());
        }
        // The results' steps first (in their order), then the views' (in theirs).
        let Some(step) = QUEUE.with(|queue| {
            let mut queue = queue.borrow_mut();
            let steps = &mut queue.steps;
            let first_results = steps.iter().position(|s| s.gate == Gate::Results);
            match first_results {
                Some(index) => steps.remove(index),
                None => steps.pop_front(),
            }
        }) else {
            break;
        };
        (step.run)();
        run_microtasks().await;
        if step.gate == Gate::Results {
            done_results_steps += 1;
        }
        if done_results_steps > 0 && !results_waiting() {
            // Let the long-task observer report the steps just run, then release "ready"
            // with the longest task up to here.
            yield_to_browser().await;
            yield_to_browser().await;
            task_started_ms = Some(now_ms());
            state.longest_task_ms.set(perf::longest_task_ms());
            let done = done_results_steps;
            state.drawing_steps.update(|n| *n = n.saturating_sub(done));
            done_results_steps = 0;
        }
    }
    QUEUE.with(|queue| queue.borrow_mut().running = false);
}

/// Returns a flag that turns true in a queued step of its own: a card shows its content
/// from then on, so that the cards of one result do not all mount in one browser task.
pub fn mount_flag(gate: Gate) -> Signal<bool> {
    let state = expect_context::<AppState>();
    let shown = RwSignal::new(false);
    enqueue(state, gate, move || {
        // The card may be gone (a newer analysis replaced it) by the time the step runs.
        let _ignored = shown.try_set(true);
    });
    shown.into()
}

/// Returns a copy of `source` that takes each new value in a queued step of its own, so that
/// a result arriving does not redraw every card in one browser task. The first value is taken
/// at once.
pub fn staged<T>(gate: Gate, source: impl Fn() -> T + Send + Sync + 'static) -> Signal<T>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    let state = expect_context::<AppState>();
    let copy = RwSignal::new(untrack(&source));
    // The number of values asked for so far; a step applies its value only when no newer one
    // was asked for since.
    let requested = StoredValue::new(0_u64);
    let applied = StoredValue::new(0_u64);
    Effect::new(move |_| {
        let value = source();
        let settled = requested.try_get_value() == applied.try_get_value();
        let unchanged = copy
            .try_with_untracked(|current| *current == value)
            .unwrap_or(true);
        if settled && unchanged {
            return;
        }
        let Some(version) = requested.try_update_value(|n| {
            *n += 1;
            *n
        }) else {
            return;
        };
        enqueue(state, gate, move || {
            if requested.try_get_value() == Some(version) {
                let _ignored = copy.try_set(value);
                let _ignored = applied.try_set_value(version);
            }
        });
    });
    copy.into()
}
