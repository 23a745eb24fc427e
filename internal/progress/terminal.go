package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"
)

// DefaultLineInterval is the minimum time between two progress lines of a
// task when the output is not a terminal.
const DefaultLineInterval = 5 * time.Second

// TerminalOptions configure a [Terminal].
type TerminalOptions struct {
	// Quiet prints nothing (`--quiet`).
	Quiet bool
	// TTY forces progress bars (true) or plain lines (false); nil decides
	// by whether the output is a terminal.
	TTY *bool
	// LineInterval is the minimum time between two progress lines of a
	// task in plain mode; 0 means [DefaultLineInterval].
	LineInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type termMode int

const (
	modeQuiet termMode = iota
	modePlain
	modeBars
)

// Terminal is a [Reporter] for humans: progress bars on a terminal, a few
// plain lines otherwise (the task, each finished layer or step, a summary
// line per interval and at the end), nothing when quiet. After a pulling
// task it prints upstream's "Fetched layers: SIZE in TIME (RATE/s)".
type Terminal struct {
	out      io.Writer
	mode     termMode
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex
	tr       tracker
	lastLine time.Time

	// bars mode
	prog *mpb.Progress
	top  *mpb.Bar
	bars map[subKey]*mpb.Bar
	cur  atomic.Pointer[string] // running step, shown by the top bar
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// NewTerminal returns a Terminal writing to w (normally os.Stderr).
func NewTerminal(w io.Writer, opts TerminalOptions) *Terminal {
	t := &Terminal{out: w, interval: opts.LineInterval, now: opts.Now}
	if t.interval <= 0 {
		t.interval = DefaultLineInterval
	}
	if t.now == nil {
		t.now = time.Now
	}
	switch {
	case opts.Quiet:
		t.mode = modeQuiet
	case opts.TTY != nil && *opts.TTY, opts.TTY == nil && IsTerminal(w):
		t.mode = modeBars
	default:
		t.mode = modePlain
	}
	return t
}

// shortLabel names the task on progress lines and bars.
func (t *Terminal) shortLabel() string {
	switch t.tr.task.Name {
	case TaskPulling:
		return "Fetching layers"
	case TaskImporting:
		return "Importing"
	case TaskStaging:
		return "Deploying"
	}
	return t.tr.label()
}

func (t *Terminal) printf(format string, args ...any) {
	fmt.Fprintf(t.out, format+"\n", args...)
}

// Start begins a task.
func (t *Terminal) Start(task Task) {
	if t.mode == modeQuiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr.active {
		t.finishLocked()
	}
	now := t.now()
	t.tr.start(task, now)
	t.lastLine = now
	switch t.mode {
	case modePlain:
		t.printf("%s", t.tr.label())
	case modeBars:
		t.startBars()
	}
}

// Bytes records byte progress.
func (t *Terminal) Bytes(s Subtask, done, total uint64) {
	if t.mode == modeQuiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tr.active {
		return
	}
	sub, isNew, completed := t.tr.updateBytes(s, done, total)
	switch t.mode {
	case modePlain:
		if completed {
			t.printf("  %s (%s)", describe(sub.Subtask), HumanBytes(sub.total))
		}
		t.maybeLine()
	case modeBars:
		t.updateByteBar(sub, isNew, completed)
		t.updateTop()
	}
}

// Step begins a step.
func (t *Terminal) Step(s Subtask) {
	if t.mode == modeQuiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tr.active {
		return
	}
	t.tr.step(s)
	switch t.mode {
	case modePlain:
		t.printf("%s: %s", t.shortLabel(), describe(s))
		t.lastLine = t.now()
	case modeBars:
		d := describe(s)
		t.cur.Store(&d)
		t.updateTop()
	}
}

// Steps sets the step counters.
func (t *Terminal) Steps(done, total uint64) {
	if t.mode == modeQuiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tr.active {
		return
	}
	t.tr.setSteps(done, total)
	switch t.mode {
	case modePlain:
		t.maybeLine()
	case modeBars:
		t.updateTop()
	}
}

// Status shows a status of the running task: on a terminal a line under the task's bar
// with the time it has taken so far, otherwise a line when it begins and one when it ends.
func (t *Terminal) Status(s Subtask, size uint64, active bool) {
	if t.mode == modeQuiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tr.active {
		return
	}
	st, changed := t.tr.setStatus(s, size, active, t.now())
	if !changed {
		return
	}
	switch t.mode {
	case modePlain:
		if active {
			t.printf("%s: %s", t.shortLabel(), describe(s))
			t.lastLine = t.now()
		} else {
			t.printf("  %s: done in %s", describe(st.Subtask), HumanDuration(t.now().Sub(st.started)))
		}
	case modeBars:
		k := keyOf(s)
		if active {
			t.bars[k] = t.prog.New(0, mpb.SpinnerStyle(), mpb.BarWidth(1), mpb.BarRemoveOnComplete(),
				mpb.PrependDecorators(decor.Name(" └ "+describe(s)+" ", decor.WCSyncWidthR)),
				mpb.AppendDecorators(decor.NewElapsed(decor.ET_STYLE_GO, time.Now())),
			)
		} else if b := t.bars[k]; b != nil {
			b.SetTotal(-1, true)
			delete(t.bars, k)
		}
	}
}

// Done ends the task and prints its summary.
func (t *Terminal) Done() {
	if t.mode == modeQuiet {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr.active {
		t.finishLocked()
	}
}

// Close stops drawing; bars of an unfinished task are removed.
func (t *Terminal) Close() error {
	if t.mode == modeQuiet {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr.active && t.mode == modeBars {
		t.abortBars()
	}
	t.tr.active = false
	return nil
}

func describe(s Subtask) string {
	switch {
	case s.Description != "":
		return s.Description
	case s.Kind != "" && s.ID != "" && s.Kind != s.ID:
		return s.Kind + " " + s.ID
	case s.ID != "":
		return s.ID
	}
	return s.Kind
}

// maybeLine prints a progress line when the interval has passed (plain).
func (t *Terminal) maybeLine() {
	now := t.now()
	if now.Sub(t.lastLine) < t.interval {
		return
	}
	t.lastLine = now
	t.printf("%s", t.statusLine())
}

func (t *Terminal) statusLine() string {
	bytesDone, bytesTotal, stepsDone, stepsTotal := t.tr.counters()
	var parts []string
	if stepsTotal > 0 {
		parts = append(parts, stepCounter(stepsDone, stepsTotal, false))
	}
	if t.tr.isBytes() {
		if bytesTotal > 0 {
			parts = append(parts, HumanBytes(bytesDone)+" / "+HumanBytes(bytesTotal))
		} else {
			parts = append(parts, HumanBytes(bytesDone))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d done", stepsDone))
	}
	return t.shortLabel() + ": " + strings.Join(parts, ", ")
}

// finishLocked completes the task and prints the summary.
func (t *Terminal) finishLocked() {
	t.tr.finish()
	if t.mode == modeBars {
		t.finishBars()
	}
	elapsed := t.now().Sub(t.tr.started)
	if t.tr.isBytes() {
		bytesDone, _, _, _ := t.tr.counters()
		if t.tr.task.Name == TaskPulling {
			t.printf("Fetched layers: %s in %s (%s/s)", HumanBytes(bytesDone), HumanDuration(elapsed), HumanBytes(rate(bytesDone, elapsed)))
		} else {
			t.printf("%s: done, %s in %s", t.shortLabel(), HumanBytes(bytesDone), HumanDuration(elapsed))
		}
	} else if t.mode == modePlain {
		t.printf("%s: done", t.shortLabel())
	}
	t.tr.active = false
}

// startBars creates the container and the task's top bar.
func (t *Terminal) startBars() {
	// WithAutoRefresh rather than ForceTTY: mpb then draws on a forced
	// TTY that is not a real terminal too (ForceTTY needs a terminal size).
	t.prog = mpb.New(mpb.WithOutput(t.out), mpb.WithAutoRefresh())
	t.bars = map[subKey]*mpb.Bar{}
	empty := ""
	t.cur.Store(&empty)
	_, _, _, stepsTotal := t.tr.counters()
	cur := &t.cur
	t.top = t.prog.New(int64(stepsTotal), mpb.BarStyle(), mpb.BarWidth(barWidth),
		mpb.PrependDecorators(decor.Name(t.shortLabel()+" ", decor.WCSyncWidthR)),
		mpb.AppendDecorators(
			decor.Any(func(st decor.Statistics) string {
				return stepCounter(uint64(max(st.Current, 0)), uint64(max(st.Total, 0)), st.Completed)
			}),
			decor.Any(func(decor.Statistics) string {
				if p := cur.Load(); p != nil && *p != "" {
					return " " + *p
				}
				return ""
			}),
		),
	)
}

func (t *Terminal) updateTop() {
	if t.top == nil {
		return
	}
	_, _, stepsDone, stepsTotal := t.tr.counters()
	t.top.SetTotal(int64(stepsTotal), false)
	t.top.SetCurrent(int64(stepsDone))
}

func (t *Terminal) updateByteBar(sub *byteSub, isNew, completed bool) {
	b := t.bars[keyOf(sub.Subtask)]
	if isNew || b == nil {
		if sub.complete && !completed {
			return
		}
		b = t.prog.New(int64(sub.total), mpb.BarStyle(), mpb.BarWidth(barWidth),
			mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name(" └ "+describe(sub.Subtask)+" ", decor.WCSyncWidthR)),
			mpb.AppendDecorators(
				decor.Any(byteCounters),
				decor.AverageSpeed(decor.SizeB1024(0), " (% .2f)"),
			),
		)
		t.bars[keyOf(sub.Subtask)] = b
	}
	if completed {
		b.SetTotal(int64(sub.total), true)
		delete(t.bars, keyOf(sub.Subtask))
		return
	}
	if sub.total > 0 {
		b.SetTotal(int64(sub.total), false)
	}
	b.SetCurrent(int64(sub.done))
}

// stepCounter renders the steps of a task: "DONE/TOTAL" once the total is known, and
// "DONE/…" while it is not (a task counting the layers it fetches learns their number as it
// goes), never a step above the total (a total found too small grows with the steps). A
// completed task shows "DONE/DONE".
func stepCounter(done, total uint64, completed bool) string {
	switch {
	case completed:
		total = max(total, done)
	case total == 0:
		return fmt.Sprintf("%d/…", done)
	}
	return fmt.Sprintf("%d/%d", done, max(total, done))
}

// barWidth is the width of the bar itself; decorators take the rest.
const barWidth = 30

// byteCounters shows "DONE / TOTAL", or "DONE" while the total is unknown.
func byteCounters(st decor.Statistics) string {
	cur := uint64(max(st.Current, 0))
	if st.Total <= 0 {
		return HumanBytes(cur)
	}
	return HumanBytes(cur) + " / " + HumanBytes(uint64(st.Total))
}

// finishBars completes every bar and waits for the final render.
func (t *Terminal) finishBars() {
	for k, b := range t.bars {
		b.SetTotal(-1, true)
		delete(t.bars, k)
	}
	if t.top != nil {
		_, _, stepsDone, _ := t.tr.counters()
		t.top.SetTotal(int64(stepsDone), true)
	}
	t.waitBars()
}

func (t *Terminal) abortBars() {
	for k, b := range t.bars {
		b.Abort(true)
		delete(t.bars, k)
	}
	if t.top != nil {
		t.top.Abort(true)
	}
	t.waitBars()
}

func (t *Terminal) waitBars() {
	if t.prog != nil {
		t.prog.Wait()
	}
	t.prog, t.top, t.bars = nil, nil, nil
}
