package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func boolPtr(b bool) *bool { return &b }

func TestTerminalPlain(t *testing.T) {
	clock := newClock()
	var buf syncBuffer
	term := NewTerminal(&buf, TerminalOptions{TTY: boolPtr(false), LineInterval: 5 * time.Second, Now: clock.Now})
	term.Bytes(layerSub("l0"), 1, 2) // before Start: ignored
	term.Start(pullTask())
	term.Bytes(layerSub("l1"), 0, 100)
	clock.Advance(5 * time.Second)
	term.Bytes(layerSub("l1"), 50, 100)
	clock.Advance(time.Second)
	term.Bytes(layerSub("l1"), 100, 100)
	clock.Advance(5 * time.Second)
	term.Bytes(layerSub("l2"), 200, 200)
	term.Done()
	term.Start(Task{Name: TaskStaging, Description: "Deploying Image", StepsTotal: 2})
	term.Step(Subtask{Kind: StepMerging, ID: "fetching", Description: "Merging Image"})
	term.Step(Subtask{Kind: StepCleanup, ID: "cleanup"})
	clock.Advance(5 * time.Second)
	term.Steps(1, 2)
	term.Done()
	term.Start(Task{Name: "other", BytesTotal: 10})
	clock.Advance(2 * time.Minute)
	term.Bytes(Subtask{Kind: "blob", ID: "x"}, 1024, 0)
	term.Done()
	term.Done() // no task: nothing
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"Pulling Image: sha256:abc",
		"Fetching layers: 0/2, 50 B / 300 B",
		"  layer: l1 (100 B)",
		"  layer: l2 (200 B)",
		"Fetching layers: 2/2, 300 B / 300 B",
		"Fetched layers: 300 B in 11 seconds (27 B/s)",
		"Deploying Image",
		"Deploying: Merging Image",
		"Deploying: cleanup",
		"Deploying: 1/2",
		"Deploying: done",
		"other",
		"other: 1.00 KiB / 10 B",
		"other: done, 1.00 KiB in 2 minutes",
	}, "\n") + "\n"
	if got := buf.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

func TestTerminalQuiet(t *testing.T) {
	var buf syncBuffer
	term := NewTerminal(&buf, TerminalOptions{Quiet: true, TTY: boolPtr(true)})
	term.Start(pullTask())
	term.Bytes(layerSub("l1"), 10, 100)
	term.Step(Subtask{Kind: "x"})
	term.Steps(1, 2)
	term.Done()
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "" {
		t.Errorf("quiet terminal wrote %q", buf.String())
	}
}

// TestTerminalBars drives the progress bars (forced TTY) from concurrent
// producers; run with -race.
func TestTerminalBars(t *testing.T) {
	var buf syncBuffer
	term := NewTerminal(&buf, TerminalOptions{TTY: boolPtr(true)})
	term.Start(pullTask())
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := layerSub(fmt.Sprintf("layer%d", i))
			var total uint64 = 1 << 20
			if i == 3 {
				total = 0 // unknown size, completed with (n, n)
			}
			for n := uint64(0); n < 1<<20; n += 64 << 10 {
				term.Bytes(s, n, total)
			}
			term.Bytes(s, 1<<20, 1<<20)
		}()
	}
	wg.Wait()
	term.Done()
	term.Start(Task{Name: TaskStaging, Description: "Deploying Image", StepsTotal: 3})
	term.Step(Subtask{Kind: StepDeploying, ID: "deploying", Description: "Deploying Image"})
	term.Steps(1, 3)
	term.Done()
	// An unfinished task is aborted by Close.
	term.Start(pullTask())
	term.Bytes(layerSub("never"), 1, 100)
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, s := range []string{"Fetching layers", "Fetched layers: 4.00 MiB in ", "Deploying"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	// Without TTY set, a non-terminal gets plain lines.
	var buf syncBuffer
	term := NewTerminal(&buf, TerminalOptions{})
	term.Start(Task{Name: "x", Description: "plain"})
	term.Done()
	if buf.String() != "plain\nplain: done\n" {
		t.Errorf("output %q", buf.String())
	}
}

// recorder is a Reporter recording its calls.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}
func (r *recorder) Start(t Task) { r.add("start " + t.Name) }
func (r *recorder) Bytes(s Subtask, done, total uint64) {
	r.add(fmt.Sprintf("bytes %s %d/%d", s.ID, done, total))
}
func (r *recorder) Step(s Subtask)           { r.add("step " + s.Kind) }
func (r *recorder) Steps(done, total uint64) { r.add(fmt.Sprintf("steps %d/%d", done, total)) }
func (r *recorder) Done()                    { r.add("done") }

func TestMulti(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	m := Multi(nil, a, Nop{}, Multi(b), &Nop{})
	m.Start(Task{Name: "t"})
	m.Bytes(Subtask{ID: "s"}, 1, 2)
	m.Step(Subtask{Kind: "k"})
	m.Steps(1, 2)
	m.Done()
	want := []string{"start t", "bytes s 1/2", "step k", "steps 1/2", "done"}
	for _, r := range []*recorder{a, b} {
		if strings.Join(r.calls, ",") != strings.Join(want, ",") {
			t.Errorf("calls %q, want %q", r.calls, want)
		}
	}
	if _, ok := Multi().(Nop); !ok {
		t.Error("Multi() is not Nop")
	}
	if _, ok := Multi(nil, Nop{}).(Nop); !ok {
		t.Error("Multi(nil, Nop) is not Nop")
	}
	if Multi(a) != Reporter(a) {
		t.Error("Multi(a) does not return a")
	}
	var n Reporter = Nop{}
	n.Start(Task{})
	n.Bytes(Subtask{}, 0, 0)
	n.Step(Subtask{})
	n.Steps(0, 0)
	n.Done()
}

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		total uint64
		want  []string
	}{
		{"known size", "abcdef", 6, []string{"bytes x 4/6", "bytes x 6/6", "bytes x 6/6"}},
		{"unknown size", "abcdef", 0, []string{"bytes x 4/0", "bytes x 6/0", "bytes x 6/6"}},
		{"empty", "", 0, []string{"bytes x 0/0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			r := NewReader(strings.NewReader(tt.data), rec, Subtask{ID: "x"}, tt.total)
			buf := make([]byte, 4)
			var got bytes.Buffer
			for {
				n, err := r.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if _, err := r.Read(buf); err != io.EOF {
				t.Fatal("read after EOF")
			}
			if got.String() != tt.data || r.N() != uint64(len(tt.data)) {
				t.Errorf("read %q (%d)", got.String(), r.N())
			}
			if strings.Join(rec.calls, ",") != strings.Join(tt.want, ",") {
				t.Errorf("calls %q, want %q", rec.calls, tt.want)
			}
		})
	}
	if _, err := io.ReadAll(NewReader(strings.NewReader("x"), nil, Subtask{}, 1)); err != nil {
		t.Error(err)
	}
}

func TestHumanBytes(t *testing.T) {
	tests := map[uint64]string{
		0:                 "0 B",
		512:               "512 B",
		1023:              "1023 B",
		1024:              "1.00 KiB",
		1536:              "1.50 KiB",
		356 << 20:         "356.00 MiB",
		813<<20 + 512<<10: "813.50 MiB",
		3 << 30:           "3.00 GiB",
		5 << 40:           "5.00 TiB",
		^uint64(0):        "16.00 EiB",
	}
	for n, want := range tests {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := map[time.Duration]string{
		0:                       "0 seconds",
		400 * time.Millisecond:  "0 seconds",
		time.Second:             "1 second",
		1500 * time.Millisecond: "2 seconds",
		59 * time.Second:        "59 seconds",
		time.Minute:             "1 minute",
		150 * time.Second:       "2 minutes",
		3 * time.Hour:           "3 hours",
		49 * time.Hour:          "2 days",
	}
	for d, want := range tests {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if rate(100, 0) != 0 || rate(100, 2*time.Second) != 50 {
		t.Error("rate")
	}
}

func TestSetup(t *testing.T) {
	var buf syncBuffer
	s, err := Setup(&buf, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Reporter.Start(Task{Name: "x"})
	s.Reporter.Done()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "" {
		t.Errorf("quiet setup wrote %q", buf.String())
	}
	if _, err := Setup(&buf, false, 2); err == nil {
		t.Error("Setup with fd 2 succeeded")
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd, err := dupFD(w)
	if err != nil {
		t.Fatal(err)
	}
	s, err = Setup(&buf, true, fd)
	if err != nil {
		t.Fatal(err)
	}
	s.Reporter.Start(Task{Name: TaskImporting})
	s.Reporter.Done()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, _ := io.ReadAll(r)
	if n := len(validateStream(t, data)); n != 3 {
		t.Errorf("%d events on the progress fd, want 3 (quiet does not silence it)", n)
	}
}

func dupFD(f *os.File) (int, error) {
	return syscall.Dup(int(f.Fd()))
}

// TestStepCounter: before the total is known the counter reads "DONE/…", never "0/0" or
// "1/0"; a count above the total shows the count as the total.
func TestStepCounter(t *testing.T) {
	for _, c := range []struct {
		done, total uint64
		completed   bool
		want        string
	}{
		{0, 0, false, "0/…"},
		{1, 0, false, "1/…"},
		{1, 3, false, "1/3"},
		{3, 3, false, "3/3"},
		{4, 3, false, "4/4"},
		{2, 0, true, "2/2"},
		{0, 0, true, "0/0"},
	} {
		if got := stepCounter(c.done, c.total, c.completed); got != c.want {
			t.Errorf("stepCounter(%d, %d, %v) = %q, want %q", c.done, c.total, c.completed, got, c.want)
		}
	}
}

// stepRatio matches a step counter "DONE/TOTAL" of the top bar.
var stepRatio = regexp.MustCompile(`(\d+)/(\d+)\b`)

// TestTerminalBarsTotalUnknown: a pulling task that does not know how many layers it
// fetches (install, switch: Task.StepsTotal 0) shows "DONE/…" while it runs, never a
// counter above its total such as "0/0" or "1/0"; a plain line never shows one either.
func TestTerminalBarsTotalUnknown(t *testing.T) {
	var buf syncBuffer
	term := NewTerminal(&buf, TerminalOptions{TTY: boolPtr(true)})
	term.Start(Task{Name: TaskPulling, Description: "Pulling x"})
	term.Bytes(layerSub("l1"), 50, 100)
	time.Sleep(400 * time.Millisecond) // mpb redraws every 150 ms
	term.Bytes(layerSub("l1"), 100, 100)
	term.Bytes(layerSub("l2"), 10, 100)
	time.Sleep(400 * time.Millisecond)
	term.Bytes(layerSub("l2"), 100, 100)
	term.Done()
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, m := range stepRatio.FindAllStringSubmatch(out, -1) {
		var done, total int
		fmt.Sscan(m[1], &done)
		fmt.Sscan(m[2], &total)
		if done > total || total == 0 && done == 0 {
			t.Errorf("the bars show the counter %q:\n%q", m[0], out)
		}
	}
	for _, w := range []string{"0/…", "1/…", "2/2"} {
		if !strings.Contains(out, w) {
			t.Errorf("the bars never show %q:\n%q", w, out)
		}
	}

	clock := newClock()
	var plain syncBuffer
	term = NewTerminal(&plain, TerminalOptions{TTY: boolPtr(false), LineInterval: time.Second, Now: clock.Now})
	term.Start(Task{Name: TaskPulling, Description: "Pulling x", StepsTotal: 1})
	term.Bytes(layerSub("l1"), 100, 100)
	clock.Advance(2 * time.Second)
	term.Bytes(layerSub("l2"), 50, 100)
	clock.Advance(2 * time.Second)
	term.Bytes(layerSub("l2"), 100, 100)
	clock.Advance(2 * time.Second)
	term.Bytes(layerSub("l3"), 1, 100)
	term.Done()
	if s := plain.String(); strings.Contains(s, "2/1") || !strings.Contains(s, "Fetching layers: 2/2, ") {
		t.Errorf("plain lines:\n%s", s)
	}
}

// applying is a layer being applied by containers-storage, as install reports it.
var applying = Subtask{Kind: StatusApplying, ID: "sha256:abcd", Description: "Applying layer sha256:abcd… (229.00 MiB)"}

// TestTerminalStatus: a status (containers-storage applying a fetched layer) shows while it
// runs, with the time it took when it ends (plain lines) or its elapsed time under the bars,
// and counts neither in the fetched bytes nor in the steps.
func TestTerminalStatus(t *testing.T) {
	clock := newClock()
	var buf syncBuffer
	term := NewTerminal(&buf, TerminalOptions{TTY: boolPtr(false), LineInterval: time.Hour, Now: clock.Now})
	term.Status(applying, 229<<20, true) // before Start: ignored
	term.Start(Task{Name: TaskPulling, Description: "Pulling x"})
	term.Bytes(layerSub("l1"), 100, 100)
	term.Status(applying, 229<<20, true)
	clock.Advance(5 * time.Second)
	term.Status(applying, 229<<20, true) // already shown: nothing
	term.Status(applying, 229<<20, false)
	term.Status(applying, 229<<20, false) // already ended: nothing
	term.Done()
	want := strings.Join([]string{
		"Pulling x",
		"  layer: l1 (100 B)",
		"Fetching layers: Applying layer sha256:abcd… (229.00 MiB)",
		"  Applying layer sha256:abcd… (229.00 MiB): done in 5 seconds",
		"Fetched layers: 100 B in 5 seconds (20 B/s)",
	}, "\n") + "\n"
	if got := buf.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}

	var bars syncBuffer
	term = NewTerminal(&bars, TerminalOptions{TTY: boolPtr(true)})
	term.Start(Task{Name: TaskPulling, Description: "Pulling x"})
	term.Bytes(layerSub("l1"), 100, 100)
	term.Status(applying, 229<<20, true)
	time.Sleep(1200 * time.Millisecond)
	term.Status(applying, 229<<20, false)
	term.Done()
	if err := term.Close(); err != nil {
		t.Fatal(err)
	}
	out := bars.String()
	if !strings.Contains(out, "Applying layer sha256:abcd… (229.00 MiB)") || !regexp.MustCompile(`Applying layer sha256:abcd… \(229\.00 MiB\) .*1s`).MatchString(out) {
		t.Errorf("the bars do not show the status with its elapsed time:\n%q", out)
	}
	if !strings.Contains(out, "Fetched layers: 100 B in ") {
		t.Errorf("the status counted in the fetched bytes:\n%q", out)
	}
}
