//! When each piece of stage work runs: as soon as the tables it reads are
//! written, at most one piece per core.
//!
//! The plan's waves say which stages may run together, but running wave by
//! wave made every stage wait for the slowest stage of the wave before: the
//! Census stage waited for the last of 55 datasets to load, and the
//! summaries for the Census stage, though most of them read none of its
//! tables, while a core sat idle. Here a *task* (a stage, or one table of a
//! stage whose tables are independent, such as the load stage's datasets)
//! starts as soon as every table it reads has been written.
//!
//! Which ready task goes first: the one with the longest chain of work
//! after it (see `by_rank`).

use std::collections::BTreeSet;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex};

use crate::error::Result;
use crate::par::lock;
use crate::plan::Plan;

/// A piece of stage work: the stage, the tables it writes, and the tables
/// written by other tasks that it must wait for.
#[derive(Debug, Clone)]
pub struct Task {
    pub stage: String,
    pub outputs: Vec<String>,
    needs: BTreeSet<String>,
}

/// The plan's work as tasks, in the order a worker prefers them.
/// `size_of` gives a dataset's file size.
pub fn tasks(plan: &Plan, size_of: impl Fn(&str) -> u64) -> Vec<Task> {
    let mut tasks = Vec::new();
    for name in plan.waves.iter().flatten() {
        let stage = &plan.stages[name];
        // A stage with no table to write still runs once (it says why).
        if stage.spec.kind.stage().splits_by_output() && !stage.outputs.is_empty() {
            tasks.extend(stage.outputs.iter().map(|t| (name, vec![t.clone()])));
        } else {
            tasks.push((name, stage.outputs.clone()));
        }
    }
    let written: BTreeSet<&String> = plan.stages.values().flat_map(|s| &s.outputs).collect();
    let tasks: Vec<Task> = tasks
        .into_iter()
        .map(|(name, outputs)| Task {
            stage: name.clone(),
            needs: plan.stages[name]
                .inputs
                .all()
                .filter(|t| written.contains(t) && !outputs.contains(t))
                .cloned()
                .collect(),
            outputs,
        })
        .collect();
    by_rank(tasks, size_of)
}

/// Orders tasks by the longest chain of work from each to the end of the
/// build (its *rank*), so that what the last steps wait on goes first: a
/// dataset the Census stage reads before one only a small summary reads.
/// A task's work is estimated by the bytes of the source files it depends
/// on (its own, for a dataset), which is what the stages' times follow.
fn by_rank(tasks: Vec<Task>, size_of: impl Fn(&str) -> u64) -> Vec<Task> {
    // `tasks` is in the plan's order, so every producer comes before the
    // tasks that read its tables.
    let producer = |table: &String| tasks.iter().position(|t| t.outputs.contains(table));
    let mut upstream: Vec<BTreeSet<&String>> = Vec::with_capacity(tasks.len());
    for t in &tasks {
        let mut up: BTreeSet<&String> = BTreeSet::new();
        if t.needs.is_empty() {
            up.extend(t.outputs.iter());
        }
        for p in t.needs.iter().filter_map(producer) {
            up.extend(upstream[p].iter().copied());
        }
        upstream.push(up);
    }
    let work: Vec<u64> = upstream
        .iter()
        .map(|up| up.iter().map(|t| size_of(t)).sum())
        .collect();
    let mut rank = work.clone();
    for i in (0..tasks.len()).rev() {
        let after = (i + 1..tasks.len())
            .filter(|&j| tasks[j].needs.iter().any(|n| tasks[i].outputs.contains(n)))
            .map(|j| rank[j])
            .max()
            .unwrap_or(0);
        rank[i] = work[i] + after;
    }
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(rank[i]));
    let mut tasks: Vec<Option<Task>> = tasks.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| tasks[i].take()).collect()
}

struct State {
    pending: Vec<Task>,
    written: BTreeSet<String>,
    running: usize,
    /// Errors by the failed task's place in the preferred order, so that
    /// the error reported does not depend on which thread was faster.
    errors: Vec<(usize, crate::error::Error)>,
    panicked: bool,
}

/// Runs every task with `workers` threads, each task once the tables it
/// needs are written. After a failure no task starts; the running ones
/// finish, and the error of the earliest failed task (in the preferred
/// order) is returned. A panic in a task is raised again here.
pub fn run(tasks: Vec<Task>, workers: usize, f: impl Fn(&Task) -> Result<()> + Sync) -> Result<()> {
    let order: Vec<String> = tasks.iter().map(task_id).collect();
    let state = Mutex::new(State {
        pending: tasks,
        written: BTreeSet::new(),
        running: 0,
        errors: Vec::new(),
        panicked: false,
    });
    let changed = Condvar::new();
    let panic = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                while let Some(task) = next(&state, &changed) {
                    let outcome = catch_unwind(AssertUnwindSafe(|| f(&task)));
                    let mut st = lock(&state);
                    st.running -= 1;
                    match outcome {
                        Ok(Ok(())) => st.written.extend(task.outputs.iter().cloned()),
                        Ok(Err(e)) => {
                            let at = order.iter().position(|o| *o == task_id(&task));
                            st.errors.push((at.unwrap_or(usize::MAX), e));
                        }
                        Err(p) => {
                            st.panicked = true;
                            *lock(&panic) = Some(p);
                        }
                    }
                    changed.notify_all();
                }
            });
        }
    });
    if let Some(p) = panic.into_inner().unwrap_or_else(|p| p.into_inner()) {
        resume_unwind(p);
    }
    let mut st = state.into_inner().unwrap_or_else(|p| p.into_inner());
    st.errors.sort_by_key(|(at, _)| *at);
    match st.errors.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

fn task_id(t: &Task) -> String {
    format!("{}:{}", t.stage, t.outputs.join(","))
}

/// The first pending task whose tables are written, waiting while tasks
/// run; None when all are done, or after a failure.
fn next(state: &Mutex<State>, changed: &Condvar) -> Option<Task> {
    let mut st = lock(state);
    loop {
        if !st.errors.is_empty() || st.panicked || st.pending.is_empty() {
            return None;
        }
        let written = &st.written;
        if let Some(i) = st.pending.iter().position(|t| t.needs.is_subset(written)) {
            st.running += 1;
            return Some(st.pending.remove(i));
        }
        if st.running == 0 {
            // Nothing runs and nothing can: the plan's cycle check makes
            // this unreachable; stopping beats waiting forever.
            let stuck: Vec<String> = st.pending.iter().map(task_id).collect();
            st.errors.push((
                usize::MAX,
                crate::error::Error::table(format!(
                    "stage work {stuck:?} waits for tables no stage writes"
                )),
            ));
            return None;
        }
        st = changed.wait(st).unwrap_or_else(|p| p.into_inner());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn task(stage: &str, outputs: &[&str], needs: &[&str]) -> Task {
        Task {
            stage: stage.into(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            needs: needs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_task_starts_only_after_the_tables_it_reads_are_written() {
        let log = Mutex::new(Vec::new());
        let tasks = vec![
            task("api", &[], &["b", "c"]),
            task("derive", &["c"], &["a"]),
            task("load", &["a"], &[]),
            task("load", &["b"], &[]),
        ];
        run(tasks, 2, |t| {
            lock(&log).push(format!("start {}", t.stage));
            std::thread::sleep(std::time::Duration::from_millis(5));
            lock(&log).push(format!("end {}", t.outputs.join("")));
            Ok(())
        })
        .unwrap();
        let log = log.into_inner().unwrap();
        let at = |s: &str| log.iter().position(|l| l == s).unwrap();
        assert!(at("end a") < at("start derive"), "{log:?}");
        assert!(at("end c") < at("start api") && at("end b") < at("start api"));
    }

    #[test]
    fn after_a_failure_nothing_new_starts_and_the_earliest_tasks_error_wins() {
        let z_started = AtomicUsize::new(0);
        let tasks = vec![
            task("x", &["x"], &[]),
            task("y", &["y"], &[]),
            task("z", &["z"], &[]),
        ];
        let err = run(tasks, 2, |t| {
            if t.stage == "z" {
                z_started.fetch_add(1, Ordering::SeqCst);
            }
            // y fails first, x (earlier in the order) after it.
            let wait = if t.stage == "x" { 20 } else { 1 };
            std::thread::sleep(std::time::Duration::from_millis(wait));
            Err(crate::error::Error::table(format!("{} failed", t.stage)))
        })
        .unwrap_err();
        assert_eq!(z_started.load(Ordering::SeqCst), 0, "z never starts");
        assert!(err.to_string().contains("x failed"), "{err}");
    }

    #[test]
    fn a_panicking_task_does_not_hang_the_others() {
        let tasks = vec![task("x", &["x"], &[]), task("y", &["y"], &["x"])];
        let r = std::panic::catch_unwind(|| run(tasks, 2, |_| panic!("boom")));
        assert!(r.is_err());
    }
}
