package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

// decodeEvents validates a stream and decodes each line into its type.
func decodeEvents(t *testing.T, data []byte) []any {
	t.Helper()
	validateStream(t, data)
	var out []any
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var probe struct{ Type string }
		if err := json.Unmarshal(line, &probe); err != nil {
			t.Fatal(err)
		}
		var v any
		switch probe.Type {
		case TypeStart:
			v = &StartEvent{}
		case TypeProgressBytes:
			v = &ProgressBytesEvent{}
		case TypeProgressSteps:
			v = &ProgressStepsEvent{}
		}
		if err := json.Unmarshal(line, v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func start() *StartEvent { return &StartEvent{Type: TypeStart, Version: APIVersion} }

func layer(id string, done, total uint64) SubTaskBytes {
	return SubTaskBytes{Subtask: SubtaskLayer, ID: id, Description: "layer: " + id, Bytes: done, BytesTotal: total}
}

func layerSub(id string) Subtask {
	return Subtask{Kind: SubtaskLayer, ID: id, Description: "layer: " + id}
}

func pulling(bytesDone, stepsDone uint64, subs ...SubTaskBytes) *ProgressBytesEvent {
	if subs == nil {
		subs = []SubTaskBytes{}
	}
	return &ProgressBytesEvent{
		Type: TypeProgressBytes, Task: TaskPulling, Description: "Pulling Image: sha256:abc", ID: "sha256:abc",
		Bytes: bytesDone, BytesCached: 100, BytesTotal: 300,
		Steps: stepsDone, StepsCached: 1, StepsTotal: 2,
		Subtasks: subs,
	}
}

func pullTask() Task {
	return Task{Name: TaskPulling, ID: "sha256:abc", Description: "Pulling Image: sha256:abc",
		BytesTotal: 300, BytesCached: 100, StepsTotal: 2, StepsCached: 1}
}

func compareEvents(t *testing.T, got, want []any) {
	t.Helper()
	if len(got) != len(want) {
		for i, g := range got {
			t.Logf("got[%d] = %s", i, encode(g))
		}
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("event %d:\n got  %s want %s", i, encode(got[i]), encode(want[i]))
		}
	}
}

func TestJSONWriterRateLimit(t *testing.T) {
	clock := newClock()
	var buf syncBuffer
	w := NewJSONWriter(&buf, WithClock(clock.Now), WithInterval(100*time.Millisecond))
	w.Bytes(layerSub("l1"), 1, 2) // before Start: ignored
	w.Start(pullTask())
	w.Bytes(layerSub("l1"), 0, 100)  // first update of l1: written
	w.Bytes(layerSub("l1"), 50, 100) // same instant: dropped
	w.Bytes(layerSub("l2"), 10, 200) // first update of l2: written
	clock.Advance(99 * time.Millisecond)
	w.Bytes(layerSub("l1"), 60, 100) // 99ms after the last l1 line: dropped
	clock.Advance(1 * time.Millisecond)
	w.Bytes(layerSub("l1"), 70, 100)  // 100ms: written
	w.Bytes(layerSub("l2"), 20, 200)  // 100ms since l2's line: written
	w.Bytes(layerSub("l1"), 100, 100) // completion: always written
	w.Bytes(layerSub("l1"), 100, 100) // already complete: ignored
	w.Bytes(layerSub("l2"), 30, 200)  // same instant as the last l2 line: dropped
	w.Done()                          // final snapshot: always written
	w.Bytes(layerSub("l2"), 1, 1)     // after Done: ignored
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := []any{
		start(),
		pulling(0, 0),
		pulling(0, 0, layer("l1", 0, 100)),
		pulling(60, 0, layer("l1", 50, 100), layer("l2", 10, 200)),
		pulling(80, 0, layer("l1", 70, 100), layer("l2", 10, 200)),
		pulling(90, 0, layer("l1", 70, 100), layer("l2", 20, 200)),
		pulling(120, 1, layer("l1", 100, 100), layer("l2", 20, 200)),
		pulling(300, 2, layer("l1", 100, 100), layer("l2", 200, 200)),
	}
	compareEvents(t, decodeEvents(t, buf.Bytes()), want)
}

// TestJSONWriterUpstreamFlow reproduces the events upstream emits for
// switch/upgrade: pulling, importing (one step), staging (steps).
func TestJSONWriterUpstreamFlow(t *testing.T) {
	clock := newClock()
	var buf syncBuffer
	w := NewJSONWriter(&buf, WithClock(clock.Now))
	digest := "sha256:0123"
	w.Start(Task{Name: TaskImporting, ID: digest, Description: "Importing Image", StepsTotal: 1})
	w.Step(Subtask{Kind: StepImporting, ID: "importing", Description: "Importing Image"})
	w.Done()
	w.Start(Task{Name: TaskStaging, ID: digest, Description: "Deploying Image", StepsTotal: 4})
	w.Step(Subtask{Kind: StepMerging, ID: "fetching", Description: "Merging Image"})
	w.Step(Subtask{Kind: StepDeploying, ID: "deploying", Description: "Deploying Image"})
	w.Steps(2, 4)
	w.Done()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	imp := func(steps uint64, subs ...SubTaskStep) *ProgressStepsEvent {
		if subs == nil {
			subs = []SubTaskStep{}
		}
		return &ProgressStepsEvent{Type: TypeProgressSteps, Task: TaskImporting, Description: "Importing Image", ID: digest,
			Steps: steps, StepsTotal: 1, Subtasks: subs}
	}
	stage := func(steps uint64, subs ...SubTaskStep) *ProgressStepsEvent {
		if subs == nil {
			subs = []SubTaskStep{}
		}
		return &ProgressStepsEvent{Type: TypeProgressSteps, Task: TaskStaging, Description: "Deploying Image", ID: digest,
			Steps: steps, StepsTotal: 4, Subtasks: subs}
	}
	step := func(kind, id, desc string, done bool) SubTaskStep {
		return SubTaskStep{Subtask: kind, ID: id, Description: desc, Completed: done}
	}
	want := []any{
		start(),
		imp(0),
		imp(0, step("importing", "importing", "Importing Image", false)),
		imp(1, step("importing", "importing", "Importing Image", true)),
		stage(0),
		stage(0, step("merging", "fetching", "Merging Image", false)),
		stage(1, step("merging", "fetching", "Merging Image", true), step("deploying", "deploying", "Deploying Image", false)),
		stage(2, step("merging", "fetching", "Merging Image", true), step("deploying", "deploying", "Deploying Image", false)),
		stage(4, step("merging", "fetching", "Merging Image", true), step("deploying", "deploying", "Deploying Image", true)),
	}
	compareEvents(t, decodeEvents(t, buf.Bytes()), want)
}

func TestJSONWriterTaskDefaults(t *testing.T) {
	var buf syncBuffer
	w := NewJSONWriter(&buf, WithClock(newClock().Now))
	// No ID: the task name is used. No BytesTotal: the sum of the subtasks.
	w.Start(Task{Name: "custom"})
	w.Bytes(Subtask{Kind: "blob", ID: "b"}, 5, 0)
	w.Bytes(Subtask{Kind: "blob", ID: "b"}, 7, 7) // unknown total, completed at the end
	// Start while running ends the previous task first.
	w.Start(Task{Name: "second"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Start(Task{Name: "after close"}) // ignored
	blob := func(done, total uint64) SubTaskBytes {
		return SubTaskBytes{Subtask: "blob", ID: "b", Bytes: done, BytesTotal: total}
	}
	custom := func(done, total, steps uint64, subs ...SubTaskBytes) *ProgressBytesEvent {
		return &ProgressBytesEvent{Type: TypeProgressBytes, Task: "custom", ID: "custom", Bytes: done, BytesTotal: total, Steps: steps, Subtasks: subs}
	}
	want := []any{
		start(),
		&ProgressStepsEvent{Type: TypeProgressSteps, Task: "custom", ID: "custom", Subtasks: []SubTaskStep{}},
		custom(5, 0, 0, blob(5, 0)),
		custom(7, 7, 1, blob(7, 7)),
		custom(7, 7, 1, blob(7, 7)),
		&ProgressStepsEvent{Type: TypeProgressSteps, Task: "second", ID: "second", Subtasks: []SubTaskStep{}},
	}
	compareEvents(t, decodeEvents(t, buf.Bytes()), want)
}

func TestJSONWriterNothingWritten(t *testing.T) {
	var buf syncBuffer
	w := NewJSONWriter(&buf)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if buf.String() != "" {
		t.Errorf("wrote %q without events; upstream writes Start only before the first event", buf.String())
	}
}

// gateWriter blocks every Write until released.
type gateWriter struct {
	release chan struct{}
	buf     syncBuffer
}

func (g *gateWriter) Write(p []byte) (int, error) {
	<-g.release
	return g.buf.Write(p)
}

// TestJSONWriterSlowReader checks that producers are not blocked by a
// reader that does not read, that lossy updates are bounded, and that
// required events are all written once the reader catches up.
func TestJSONWriterSlowReader(t *testing.T) {
	clock := newClock()
	g := &gateWriter{release: make(chan struct{})}
	w := NewJSONWriter(g, WithClock(clock.Now), WithInterval(time.Millisecond))
	w.Start(Task{Name: TaskPulling, StepsTotal: 1000, BytesTotal: 1})
	const layers = 100
	for i := range layers {
		s := Subtask{Kind: SubtaskLayer, ID: fmt.Sprint(i)}
		for n := range uint64(10) {
			clock.Advance(time.Millisecond)
			w.Bytes(s, n, 10) // lossy
		}
		w.Bytes(s, 10, 10) // required
	}
	w.Done()
	// Every call above returned although nothing could be written.
	close(g.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	events := decodeEvents(t, g.buf.Bytes())
	completions := 0
	lossy := 0
	for _, e := range events[2:] { // skip Start and the task's first snapshot
		ev := e.(*ProgressBytesEvent)
		last := ev.Subtasks[len(ev.Subtasks)-1]
		if last.Bytes == 10 {
			completions++
		} else {
			lossy++
		}
	}
	if completions != layers+1 { // +1: Done's final snapshot
		t.Errorf("%d completion events, want %d", completions, layers+1)
	}
	if lossy > maxPending {
		t.Errorf("%d lossy events queued, want at most %d", lossy, maxPending)
	}
	final := events[len(events)-1].(*ProgressBytesEvent)
	if final.Steps != layers || final.Bytes != layers*10 {
		t.Errorf("final event steps %d bytes %d", final.Steps, final.Bytes)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	if f.n > 1 {
		return 0, errors.New("broken pipe")
	}
	return len(p), nil
}

func TestJSONWriterWriteError(t *testing.T) {
	fw := &failWriter{}
	w := NewJSONWriter(fw)
	w.Start(Task{Name: TaskStaging})
	w.Step(Subtask{Kind: StepDeploying})
	w.Done()
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Close() = %v, want the write error", err)
	}
	// The producer carries on after the error.
	w.Start(Task{Name: TaskStaging})
	w.Done()
}

// TestJSONWriterConcurrent runs several producers at once (run with -race).
func TestJSONWriterConcurrent(t *testing.T) {
	var buf syncBuffer
	w := NewJSONWriter(&buf, WithInterval(0))
	const producers, updates = 8, 500
	w.Start(Task{Name: TaskPulling, StepsTotal: producers, BytesTotal: producers * updates})
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := Subtask{Kind: SubtaskLayer, ID: fmt.Sprint(p)}
			for n := range uint64(updates + 1) {
				w.Bytes(s, n, updates)
			}
		}()
	}
	wg.Wait()
	w.Done()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	events := decodeEvents(t, buf.Bytes())
	final := events[len(events)-1].(*ProgressBytesEvent)
	if len(final.Subtasks) != producers || final.Steps != producers || final.Bytes != producers*updates {
		t.Fatalf("final event: %s", encode(final))
	}
	for _, s := range final.Subtasks {
		if s.Bytes != s.BytesTotal || s.BytesTotal != updates {
			t.Errorf("subtask not complete: %+v", s)
		}
	}
	// Per subtask, byte counts never go backwards.
	last := map[string]uint64{}
	for _, e := range events[1:] {
		for _, s := range e.(*ProgressBytesEvent).Subtasks {
			if s.Bytes < last[s.ID] {
				t.Fatalf("subtask %s went back from %d to %d", s.ID, last[s.ID], s.Bytes)
			}
			last[s.ID] = s.Bytes
		}
	}
}

func TestParseFD(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr string
	}{
		{"3", 3, ""},
		{"42", 42, ""},
		{"0", 0, "cannot use fd 0"},
		{"2", 0, "cannot use fd 2"},
		{"-1", 0, "invalid progress fd"},
		{"x", 0, "invalid progress fd"},
		{"", 0, "invalid progress fd"},
	}
	for _, tt := range tests {
		got, err := ParseFD(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFD(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseFD(%q) = %d, %v", tt.in, got, err)
		}
	}
}

func TestOpenFD(t *testing.T) {
	if _, err := OpenFD(1); err == nil {
		t.Error("OpenFD(1) succeeded")
	}
	if _, err := OpenFD(1 << 20); err == nil {
		t.Error("OpenFD of a closed fd succeeded")
	}
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fd, err := syscall.Dup(int(wr.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	wr.Close()
	w, err := OpenFD(fd)
	if err != nil {
		t.Fatal(err)
	}
	w.Start(Task{Name: TaskImporting})
	w.Done()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r) // EOF: Close closed the last write end
	if err != nil {
		t.Fatal(err)
	}
	if got := len(validateStream(t, data)); got != 3 {
		t.Errorf("%d events, want 3: %s", got, data)
	}
}

// TestJSONWriterStatus: a status of a pulling task (containers-storage applying a layer)
// is sent when it begins and when it ends, as a subtask of the ProgressBytes events in
// progress-v0's shape (complete once bytes equals bytesTotal), outside the task's byte and
// step counts; it ends with its task at the latest; statuses reach a Multi's reporters.
func TestJSONWriterStatus(t *testing.T) {
	var buf syncBuffer
	w := NewJSONWriter(&buf, WithClock(newClock().Now))
	r := Multi(w, &recorder{})
	Status(r, applying, 100, true) // before Start: ignored
	r.Start(pullTask())
	r.Bytes(layerSub("l1"), 200, 200)
	Status(r, applying, 100, true)
	Status(r, applying, 100, true) // no change: no event
	Status(r, applying, 100, false)
	other := Subtask{Kind: StatusApplying, ID: "sha256:ef", Description: "Applying layer sha256:ef…"}
	Status(r, other, 50, true)
	r.Done() // ends it
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	status := func(s Subtask, done, total uint64) SubTaskBytes {
		return SubTaskBytes{Subtask: StatusApplying, ID: s.ID, Description: s.Description, Bytes: done, BytesTotal: total}
	}
	want := []any{
		start(),
		pulling(0, 0),
		pulling(200, 1, layer("l1", 200, 200)),
		pulling(200, 1, layer("l1", 200, 200), status(applying, 0, 100)),
		pulling(200, 1, layer("l1", 200, 200), status(applying, 100, 100)),
		pulling(200, 1, layer("l1", 200, 200), status(applying, 100, 100), status(other, 0, 50)),
		pulling(200, 1, layer("l1", 200, 200), status(applying, 100, 100), status(other, 50, 50)),
	}
	data := buf.Bytes()
	validateStream(t, data)
	compareEvents(t, decodeEvents(t, data), want)
}
