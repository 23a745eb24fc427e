package progress

// APIVersion is the version of the progress protocol sent in the Start event.
const APIVersion = "0.1.0"

// Event type names (the "type" field).
const (
	TypeStart         = "Start"
	TypeProgressBytes = "ProgressBytes"
	TypeProgressSteps = "ProgressSteps"
)

// The field order of the event structs is alphabetical so that
// encoding/json writes keys sorted, as upstream's canonical JSON does.

// StartEvent is the first line written to a progress fd.
type StartEvent struct {
	// Type is always "Start".
	Type string `json:"type"`
	// Version is the semantic version of the protocol ([APIVersion]).
	Version string `json:"version"`
}

// ProgressBytesEvent is an update of a task that transfers bytes.
type ProgressBytesEvent struct {
	// Bytes is the number of bytes already fetched.
	Bytes uint64 `json:"bytes"`
	// BytesCached is the number of bytes fetched by a previous run.
	BytesCached uint64 `json:"bytesCached"`
	// BytesTotal is the number of bytes to fetch; 0 means unspecified.
	BytesTotal uint64 `json:"bytesTotal"`
	// Description is a human readable description of the task.
	Description string `json:"description"`
	// ID identifies the task (for example the image digest).
	ID string `json:"id"`
	// Steps is the number of steps (layers) done.
	Steps uint64 `json:"steps"`
	// StepsCached is the number of steps done by a previous run.
	StepsCached uint64 `json:"stepsCached"`
	// StepsTotal is the number of steps to do.
	StepsTotal uint64 `json:"stepsTotal"`
	// Subtasks are the subtasks seen so far, completed ones included.
	Subtasks []SubTaskBytes `json:"subtasks"`
	// Task is the machine readable task name ("pulling").
	Task string `json:"task"`
	// Type is always "ProgressBytes".
	Type string `json:"type"`
}

// SubTaskBytes is the byte progress of one subtask (a layer). The subtask
// is complete when Bytes == BytesTotal.
type SubTaskBytes struct {
	// Bytes is the number of bytes done.
	Bytes uint64 `json:"bytes"`
	// BytesCached is the number of bytes fetched by a previous run.
	BytesCached uint64 `json:"bytesCached"`
	// BytesTotal is the size of the subtask.
	BytesTotal uint64 `json:"bytesTotal"`
	// Description is a human readable description ("layer: 0123abc").
	Description string `json:"description"`
	// ID identifies the subtask (for example a short layer digest).
	ID string `json:"id"`
	// Subtask is the machine readable subtask kind ("layer").
	Subtask string `json:"subtask"`
}

// ProgressStepsEvent is an update of a task made of discrete steps.
type ProgressStepsEvent struct {
	// Description is a human readable description of the task.
	Description string `json:"description"`
	// ID identifies the task (for example the image digest).
	ID string `json:"id"`
	// Steps is the number of steps done.
	Steps uint64 `json:"steps"`
	// StepsCached is the number of steps done by a previous run.
	StepsCached uint64 `json:"stepsCached"`
	// StepsTotal is the number of steps.
	StepsTotal uint64 `json:"stepsTotal"`
	// Subtasks are the steps started so far, completed ones included.
	Subtasks []SubTaskStep `json:"subtasks"`
	// Task is the machine readable task name ("staging").
	Task string `json:"task"`
	// Type is always "ProgressSteps".
	Type string `json:"type"`
}

// SubTaskStep marks the beginning (Completed false) and end (Completed true)
// of a discrete step.
type SubTaskStep struct {
	// Completed turns true when the step is done.
	Completed bool `json:"completed"`
	// Description is a human readable description ("Deploying Image").
	Description string `json:"description"`
	// ID identifies the step.
	ID string `json:"id"`
	// Subtask is the machine readable step kind ("deploying").
	Subtask string `json:"subtask"`
}
