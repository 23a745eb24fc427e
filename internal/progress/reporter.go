package progress

// Task names used by upstream for `bootc switch` and `bootc upgrade`.
const (
	// TaskPulling is fetching the image layers (a bytes task).
	TaskPulling = "pulling"
	// TaskImporting is importing the fetched image into ostree.
	TaskImporting = "importing"
	// TaskStaging is staging the deployment, pulling bound images and
	// pruning.
	TaskStaging = "staging"
)

// Subtask kinds and step names used by upstream.
const (
	// SubtaskLayer is a container image layer being fetched.
	SubtaskLayer = "layer"
	// SubtaskOstreeChunk is an ostree chunk layer being fetched.
	SubtaskOstreeChunk = "ostree chunk"
	// StepImporting is the single step of the importing task.
	StepImporting = "importing"
	// StepMerging, StepDeploying, StepBoundImages and StepCleanup are the
	// steps of the staging task.
	StepMerging     = "merging"
	StepDeploying   = "deploying"
	StepBoundImages = "bound_images"
	StepCleanup     = "cleanup"
	// StatusApplying is containers-storage writing a fetched layer into the store
	// (decompressing and applying it), a status of the pulling task.
	StatusApplying = "applying"
	// StatusStoring is a deployed image being written into containers-storage, a status
	// of the staging task.
	StatusStoring = "storing"
)

// Task describes a long operation.
type Task struct {
	// Name is the machine readable task name ([TaskPulling], ...).
	Name string
	// ID identifies the task, for example the manifest digest; empty
	// means Name.
	ID string
	// Description is a human readable description, for example
	// "Pulling Image: sha256:…".
	Description string
	// BytesTotal is the number of bytes to transfer (not counting cached
	// ones); 0 means the sum of the subtasks' totals. A non-zero value
	// makes this a bytes task.
	BytesTotal uint64
	// BytesCached is the number of bytes already present.
	BytesCached uint64
	// StepsTotal is the number of steps (layers to fetch, stages).
	StepsTotal uint64
	// StepsCached is the number of steps already done (layers present).
	StepsCached uint64
}

// Subtask identifies a unit of work within a task: a layer, a step.
type Subtask struct {
	// Kind is the machine readable kind ([SubtaskLayer], [StepDeploying]).
	Kind string
	// ID identifies the subtask within the task, for example a short layer
	// digest.
	ID string
	// Description is human readable, for example "layer: 0123abc".
	Description string
}

// Reporter receives progress. Implementations are safe for concurrent use
// and never block for long. Calls outside Start … Done are ignored.
type Reporter interface {
	// Start begins a task. A task still running is ended as by Done.
	Start(t Task)
	// Bytes reports that done of total bytes of the subtask are done.
	// total 0 means unknown. The subtask is complete once total > 0 and
	// done >= total; report (n, n) at the end when the total was unknown.
	// A task that receives Bytes calls is a bytes task.
	Bytes(s Subtask, done, total uint64)
	// Step begins the step s; the step running before it is completed.
	Step(s Subtask)
	// Steps sets the number of steps done and the total, overriding the
	// automatic count (completed subtasks) and Task.StepsTotal.
	Steps(done, total uint64)
	// Done ends the current task successfully: every subtask is marked
	// complete.
	Done()
}

// StatusReporter is implemented by the reporters that show transient statuses of the
// running task: work that moves neither bytes nor steps but takes a while, such as
// containers-storage applying a layer it fetched. A status shows from its beginning to its
// end (or the end of the task) with the time it has taken; the JSON stream lists it as a
// subtask of the task's events (for a bytes task, complete when bytes equals bytesTotal),
// outside the task's byte and step counts.
type StatusReporter interface {
	// Status begins (active) or ends the status s; size is the number of bytes it works
	// on (0: unknown).
	Status(s Subtask, size uint64, active bool)
}

// Status reports a status to r if it shows statuses.
func Status(r Reporter, s Subtask, size uint64, active bool) {
	if sr, ok := r.(StatusReporter); ok {
		sr.Status(s, size, active)
	}
}

// Nop is a Reporter that discards everything.
type Nop struct{}

// Start does nothing.
func (Nop) Start(Task) {}

// Bytes does nothing.
func (Nop) Bytes(Subtask, uint64, uint64) {}

// Step does nothing.
func (Nop) Step(Subtask) {}

// Steps does nothing.
func (Nop) Steps(uint64, uint64) {}

// Done does nothing.
func (Nop) Done() {}

type multi []Reporter

// Multi returns a Reporter that forwards every call to each of rs in order.
// nil and Nop reporters are dropped; with none left it returns Nop.
func Multi(rs ...Reporter) Reporter {
	var m multi
	for _, r := range rs {
		switch r := r.(type) {
		case nil, Nop, *Nop:
			continue
		case multi:
			m = append(m, r...)
		default:
			m = append(m, r)
		}
	}
	switch len(m) {
	case 0:
		return Nop{}
	case 1:
		return m[0]
	}
	return m
}

func (m multi) Start(t Task) {
	for _, r := range m {
		r.Start(t)
	}
}

func (m multi) Bytes(s Subtask, done, total uint64) {
	for _, r := range m {
		r.Bytes(s, done, total)
	}
}

func (m multi) Step(s Subtask) {
	for _, r := range m {
		r.Step(s)
	}
}

func (m multi) Steps(done, total uint64) {
	for _, r := range m {
		r.Steps(done, total)
	}
}

func (m multi) Status(s Subtask, size uint64, active bool) {
	for _, r := range m {
		Status(r, s, size, active)
	}
}

func (m multi) Done() {
	for _, r := range m {
		r.Done()
	}
}
