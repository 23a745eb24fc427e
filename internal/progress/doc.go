// Package progress reports the progress of long operations (pulling,
// importing, staging) to the terminal and, for `--progress-fd N`, as JSON
// lines following upstream bootc's progress-v0 schema
// (docs/src/progress-v0.schema.json, crates/lib/src/progress_jsonl.rs).
//
// Code doing the work calls a [Reporter]: [Reporter.Start] begins a task,
// [Reporter.Bytes] updates the byte progress of a subtask (a layer),
// [Reporter.Step] moves to the next discrete step, [Reporter.Steps] sets the
// step counters and [Reporter.Done] ends the task. Reporters are safe for
// concurrent use, so layers fetched in parallel may report at the same time.
//
// Sinks:
//   - [JSONWriter] writes one JSON object per line: a `Start` event
//     (version 0.1.0) before anything else, then `ProgressBytes` events for
//     tasks that move bytes and `ProgressSteps` events for the others. Each
//     event is a full snapshot of the task with all its subtasks. Byte
//     updates are rate-limited per subtask; task starts, steps, subtask
//     completions and the end of a task are always written. A background
//     goroutine does the writing, so a slow reader never blocks the work.
//   - [Terminal] draws progress bars on a terminal, prints periodic plain
//     lines otherwise, and prints nothing when quiet.
//   - [Multi] fans out to several sinks; [Nop] discards everything.
package progress
