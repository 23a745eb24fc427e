package progress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// DefaultInterval is the minimum time between two lossy updates of the same
// subtask written by a [JSONWriter].
const DefaultInterval = 100 * time.Millisecond

// maxPending bounds the lossy events waiting for a slow reader; events that
// must not be lost (starts, steps, completions, ends) are always queued.
const maxPending = 64

// JSONOption configures a [JSONWriter].
type JSONOption func(*JSONWriter)

// WithClock makes the writer read the time from now (for tests).
func WithClock(now func() time.Time) JSONOption {
	return func(w *JSONWriter) { w.now = now }
}

// WithInterval sets the minimum time between two updates of one subtask.
func WithInterval(d time.Duration) JSONOption {
	return func(w *JSONWriter) { w.interval = d }
}

// JSONWriter is a [Reporter] writing JSON lines (`--progress-fd`). Writing
// happens on a background goroutine: producers only format and queue. Byte
// updates of a subtask are written at most once per interval, and dropped
// while maxPending events wait for a slow reader; everything else is
// always written. After a write error nothing more is written and Close
// returns the error. Call Close to flush.
type JSONWriter struct {
	out      io.Writer
	closer   io.Closer
	now      func() time.Time
	interval time.Duration

	mu        sync.Mutex
	tr        tracker
	lastEmit  map[subKey]time.Time
	sentStart bool
	queue     []queued
	lossy     int // lossy events in queue
	closed    bool
	err       error

	wake chan struct{}
	done chan struct{}
}

// queued is a line waiting to be written.
type queued struct {
	line  []byte
	lossy bool
}

// NewJSONWriter returns a JSONWriter writing to w. It does not close w.
func NewJSONWriter(w io.Writer, opts ...JSONOption) *JSONWriter {
	j := &JSONWriter{
		out:      w,
		now:      time.Now,
		interval: DefaultInterval,
		lastEmit: map[subKey]time.Time{},
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	for _, o := range opts {
		o(j)
	}
	go j.run()
	return j
}

// ParseFD parses a --progress-fd value, refusing stdin, stdout and stderr
// as upstream does.
func ParseFD(s string) (int, error) {
	fd, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("invalid progress fd %q: %w", s, err)
	}
	if fd <= 2 {
		return 0, fmt.Errorf("cannot use fd %d for progress JSON", fd)
	}
	return int(fd), nil
}

// OpenFD returns a JSONWriter writing to the inherited file descriptor fd,
// which Close closes.
func OpenFD(fd int, opts ...JSONOption) (*JSONWriter, error) {
	if fd <= 2 {
		return nil, fmt.Errorf("cannot use fd %d for progress JSON", fd)
	}
	f := os.NewFile(uintptr(fd), "progress-fd")
	if f == nil {
		return nil, fmt.Errorf("progress fd %d is not valid", fd)
	}
	if _, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("progress fd %d: %w", fd, err)
	}
	j := NewJSONWriter(f, opts...)
	j.closer = f
	return j, nil
}

// encode returns the canonical JSON line of v: sorted keys, no HTML escaping,
// ending in a newline (JSON strings never contain a literal newline).
func encode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only plain structs of strings and integers are encoded.
		panic(err)
	}
	return buf.Bytes()
}

// enqueue queues a line; j.mu must be held.
func (j *JSONWriter) enqueue(line []byte, required bool) bool {
	if j.closed || j.err != nil {
		return false
	}
	if !j.sentStart {
		j.sentStart = true
		j.queue = append(j.queue, queued{line: encode(&StartEvent{Type: TypeStart, Version: APIVersion})})
	}
	if !required {
		if j.lossy >= maxPending {
			return false
		}
		j.lossy++
	}
	j.queue = append(j.queue, queued{line: line, lossy: !required})
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return true
}

// emit queues a snapshot of the current task; j.mu must be held.
func (j *JSONWriter) emit(required bool) bool {
	if j.closed || j.err != nil || !required && j.lossy >= maxPending {
		return false
	}
	return j.enqueue(encode(j.tr.event()), required)
}

func (j *JSONWriter) run() {
	defer close(j.done)
	for {
		j.mu.Lock()
		for len(j.queue) == 0 && !j.closed {
			j.mu.Unlock()
			<-j.wake
			j.mu.Lock()
		}
		if len(j.queue) == 0 {
			j.mu.Unlock()
			return
		}
		item := j.queue[0]
		j.queue[0] = queued{}
		j.queue = j.queue[1:]
		if item.lossy {
			j.lossy--
		}
		line := item.line
		failed := j.err != nil
		j.mu.Unlock()
		if failed {
			continue
		}
		if _, err := j.out.Write(line); err != nil {
			j.mu.Lock()
			j.err = err
			j.queue = nil
			j.lossy = 0
			j.mu.Unlock()
		}
	}
}

// Start begins a task and writes its first snapshot.
func (j *JSONWriter) Start(t Task) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.tr.active {
		j.finishLocked()
	}
	j.tr.start(t, j.now())
	clear(j.lastEmit)
	j.emit(true)
}

// Bytes records byte progress; the snapshot is written when the subtask is
// new, completes, or was last written at least one interval ago.
func (j *JSONWriter) Bytes(s Subtask, done, total uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.tr.active {
		return
	}
	_, _, completed := j.tr.updateBytes(s, done, total)
	if completed {
		j.emit(true)
		return
	}
	k := keyOf(s)
	now := j.now()
	if last, ok := j.lastEmit[k]; ok && now.Sub(last) < j.interval {
		return
	}
	if j.emit(false) {
		j.lastEmit[k] = now
	}
}

// Step begins a step and writes the snapshot.
func (j *JSONWriter) Step(s Subtask) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.tr.active {
		return
	}
	j.tr.step(s)
	j.emit(true)
}

// Steps sets the step counters and writes the snapshot.
func (j *JSONWriter) Steps(done, total uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.tr.active {
		return
	}
	j.tr.setSteps(done, total)
	j.emit(true)
}

// Status records a status and sends an event when it begins or ends.
func (j *JSONWriter) Status(s Subtask, size uint64, active bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.tr.active {
		return
	}
	if _, changed := j.tr.setStatus(s, size, active, j.now()); changed {
		j.emit(true)
	}
}

// Done completes the task and writes the final snapshot.
func (j *JSONWriter) Done() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.tr.active {
		j.finishLocked()
	}
}

func (j *JSONWriter) finishLocked() {
	j.tr.finish()
	j.emit(true)
	j.tr.active = false
}

// Close writes what is queued, stops the writer and closes the file
// descriptor opened by [OpenFD]. It returns the first write error; the
// caller should report it (upstream prints "Failed to write to jsonl") and
// carry on. Later calls to the Reporter methods are ignored.
func (j *JSONWriter) Close() error {
	j.mu.Lock()
	already := j.closed
	j.closed = true
	j.mu.Unlock()
	if !already {
		select {
		case j.wake <- struct{}{}:
		default:
		}
	}
	<-j.done
	var err error
	j.mu.Lock()
	err = j.err
	closer := j.closer
	j.closer = nil
	j.mu.Unlock()
	if closer != nil {
		if cerr := closer.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
