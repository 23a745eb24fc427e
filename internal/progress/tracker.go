package progress

import "time"

// subKey identifies a subtask within a task.
type subKey struct{ kind, id string }

func keyOf(s Subtask) subKey { return subKey{s.Kind, s.ID} }

type byteSub struct {
	Subtask
	done, total uint64
	complete    bool
}

type stepSub struct {
	Subtask
	completed bool
}

// statusSub is a transient status (see [StatusReporter]): shown while it runs, listed in
// the JSON events, never counted in the task's bytes or steps.
type statusSub struct {
	Subtask
	size    uint64
	started time.Time
	done    bool
}

// tracker holds the state of the current task; sinks embed one and guard it
// with their own mutex.
type tracker struct {
	active  bool
	task    Task
	started time.Time

	bytes   []*byteSub
	byteIdx map[subKey]int

	steps   []*stepSub
	stepIdx map[subKey]int
	running int // index into steps of the running step, or -1

	statuses  []*statusSub
	statusIdx map[subKey]int

	explicitDone  bool
	explicitTotal bool
	stepsDone     uint64
	stepsTotal    uint64
}

func (t *tracker) start(task Task, now time.Time) {
	*t = tracker{
		active:  true,
		task:    task,
		started: now,
		byteIdx: map[subKey]int{},
		stepIdx: map[subKey]int{},
		running: -1,

		statusIdx: map[subKey]int{},
	}
}

// setStatus begins (active) or ends the status s of size bytes (0: unknown). It returns
// the status and whether this call changed it: a status begins once, and ends once.
func (t *tracker) setStatus(s Subtask, size uint64, active bool, now time.Time) (*statusSub, bool) {
	k := keyOf(s)
	if i, ok := t.statusIdx[k]; ok {
		st := t.statuses[i]
		if active || st.done {
			return st, false
		}
		st.done = true
		return st, true
	}
	if !active {
		return nil, false
	}
	st := &statusSub{Subtask: s, size: size, started: now}
	t.statusIdx[k] = len(t.statuses)
	t.statuses = append(t.statuses, st)
	return st, true
}

// isBytes reports whether the task reports bytes (ProgressBytes events).
func (t *tracker) isBytes() bool {
	return t.task.BytesTotal > 0 || len(t.bytes) > 0
}

// updateBytes records byte progress. It returns the subtask, whether it was
// seen for the first time, and whether it completed with this update.
func (t *tracker) updateBytes(s Subtask, done, total uint64) (sub *byteSub, isNew, completedNow bool) {
	k := keyOf(s)
	i, ok := t.byteIdx[k]
	if !ok {
		sub = &byteSub{Subtask: s}
		t.byteIdx[k] = len(t.bytes)
		t.bytes = append(t.bytes, sub)
		isNew = true
	} else {
		sub = t.bytes[i]
		if s.Description != "" {
			sub.Description = s.Description
		}
	}
	if sub.complete {
		return sub, isNew, false
	}
	sub.done, sub.total = done, total
	if total > 0 && done >= total {
		sub.done = total
		sub.complete = true
		completedNow = true
	}
	return sub, isNew, completedNow
}

// step starts step s, completing the running one. It returns the step that
// completed, if any.
func (t *tracker) step(s Subtask) (finished *stepSub) {
	if t.running >= 0 {
		finished = t.steps[t.running]
		finished.completed = true
	}
	k := keyOf(s)
	if i, ok := t.stepIdx[k]; ok {
		t.steps[i].completed = false
		if s.Description != "" {
			t.steps[i].Description = s.Description
		}
		t.running = i
		return finished
	}
	t.stepIdx[k] = len(t.steps)
	t.steps = append(t.steps, &stepSub{Subtask: s})
	t.running = len(t.steps) - 1
	return finished
}

func (t *tracker) setSteps(done, total uint64) {
	t.explicitDone, t.explicitTotal = true, true
	t.stepsDone, t.stepsTotal = done, total
}

// finish marks everything complete.
func (t *tracker) finish() {
	for _, b := range t.bytes {
		if !b.complete {
			if b.total == 0 || b.done > b.total {
				b.total = b.done
			} else {
				b.done = b.total
			}
			b.complete = true
		}
	}
	for _, s := range t.steps {
		s.completed = true
	}
	for _, s := range t.statuses {
		s.done = true
	}
	t.running = -1
	if t.explicitDone && t.explicitTotal && t.stepsDone < t.stepsTotal {
		t.stepsDone = t.stepsTotal
	}
}

// counters returns the task-level byte and step counters.
func (t *tracker) counters() (bytesDone, bytesTotal, stepsDone, stepsTotal uint64) {
	var sumTotal uint64
	var completed uint64
	for _, b := range t.bytes {
		bytesDone += b.done
		sumTotal += b.total
		if b.complete {
			completed++
		}
	}
	for _, s := range t.steps {
		if s.completed {
			completed++
		}
	}
	bytesTotal = t.task.BytesTotal
	if bytesTotal == 0 {
		bytesTotal = sumTotal
	}
	stepsDone = completed
	if t.explicitDone {
		stepsDone = t.stepsDone
	}
	stepsTotal = t.task.StepsTotal
	if t.explicitTotal {
		stepsTotal = t.stepsTotal
	}
	return bytesDone, bytesTotal, stepsDone, stepsTotal
}

// event returns the JSON snapshot of the task.
func (t *tracker) event() any {
	id := t.task.ID
	if id == "" {
		id = t.task.Name
	}
	bytesDone, bytesTotal, stepsDone, stepsTotal := t.counters()
	if t.isBytes() {
		subs := make([]SubTaskBytes, 0, len(t.bytes))
		for _, b := range t.bytes {
			subs = append(subs, SubTaskBytes{
				Bytes:       b.done,
				BytesTotal:  b.total,
				Description: b.Description,
				ID:          b.ID,
				Subtask:     b.Kind,
			})
		}
		for _, st := range t.statuses {
			var done uint64
			if st.done {
				done = st.size
			}
			subs = append(subs, SubTaskBytes{Bytes: done, BytesTotal: st.size, Description: st.Description, ID: st.ID, Subtask: st.Kind})
		}
		return &ProgressBytesEvent{
			Bytes:       bytesDone,
			BytesCached: t.task.BytesCached,
			BytesTotal:  bytesTotal,
			Description: t.task.Description,
			ID:          id,
			Steps:       stepsDone,
			StepsCached: t.task.StepsCached,
			StepsTotal:  stepsTotal,
			Subtasks:    subs,
			Task:        t.task.Name,
			Type:        TypeProgressBytes,
		}
	}
	subs := make([]SubTaskStep, 0, len(t.steps))
	for _, s := range t.steps {
		subs = append(subs, SubTaskStep{
			Completed:   s.completed,
			Description: s.Description,
			ID:          s.ID,
			Subtask:     s.Kind,
		})
	}
	for _, st := range t.statuses {
		subs = append(subs, SubTaskStep{Completed: st.done, Description: st.Description, ID: st.ID, Subtask: st.Kind})
	}
	return &ProgressStepsEvent{
		Description: t.task.Description,
		ID:          id,
		Steps:       stepsDone,
		StepsCached: t.task.StepsCached,
		StepsTotal:  stepsTotal,
		Subtasks:    subs,
		Task:        t.task.Name,
		Type:        TypeProgressSteps,
	}
}

// label is the human name of the task.
func (t *tracker) label() string {
	if t.task.Description != "" {
		return t.task.Description
	}
	return t.task.Name
}
