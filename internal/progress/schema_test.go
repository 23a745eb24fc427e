package progress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// This file checks lines against docs/src/progress-v0.schema.json by hand:
// the required fields of each event and subtask type, their JSON types,
// uint64 integers, the "type" constants, and (beyond the schema) that no
// other field appears and that keys are sorted, as upstream's canonical
// JSON writes them.

type fieldKind int

const (
	kString fieldKind = iota
	kUint
	kBool
	kBytesSubtasks
	kStepSubtasks
)

var (
	startFields = map[string]fieldKind{"type": kString, "version": kString}
	bytesFields = map[string]fieldKind{
		"type": kString, "task": kString, "description": kString, "id": kString,
		"bytesCached": kUint, "bytes": kUint, "bytesTotal": kUint,
		"stepsCached": kUint, "steps": kUint, "stepsTotal": kUint,
		"subtasks": kBytesSubtasks,
	}
	stepsFields = map[string]fieldKind{
		"type": kString, "task": kString, "description": kString, "id": kString,
		"stepsCached": kUint, "steps": kUint, "stepsTotal": kUint,
		"subtasks": kStepSubtasks,
	}
	subTaskBytesFields = map[string]fieldKind{
		"subtask": kString, "description": kString, "id": kString,
		"bytesCached": kUint, "bytes": kUint, "bytesTotal": kUint,
	}
	subTaskStepFields = map[string]fieldKind{
		"subtask": kString, "description": kString, "id": kString, "completed": kBool,
	}
)

// checkObject validates one JSON object against a field table.
func checkObject(obj map[string]any, want map[string]fieldKind, where string) error {
	for k := range obj {
		if _, ok := want[k]; !ok {
			return fmt.Errorf("%s: unexpected field %q", where, k)
		}
	}
	for k, kind := range want {
		v, ok := obj[k]
		if !ok {
			return fmt.Errorf("%s: missing required field %q", where, k)
		}
		switch kind {
		case kString:
			if _, ok := v.(string); !ok {
				return fmt.Errorf("%s: %q is %T, want string", where, k, v)
			}
		case kBool:
			if _, ok := v.(bool); !ok {
				return fmt.Errorf("%s: %q is %T, want boolean", where, k, v)
			}
		case kUint:
			n, ok := v.(json.Number)
			if !ok {
				return fmt.Errorf("%s: %q is %T, want integer", where, k, v)
			}
			if strings.ContainsAny(n.String(), ".eE-") {
				return fmt.Errorf("%s: %q = %s, want a non-negative integer", where, k, n)
			}
		case kBytesSubtasks, kStepSubtasks:
			arr, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s: %q is %T, want array", where, k, v)
			}
			sub := subTaskBytesFields
			if kind == kStepSubtasks {
				sub = subTaskStepFields
			}
			for i, e := range arr {
				o, ok := e.(map[string]any)
				if !ok {
					return fmt.Errorf("%s: %s[%d] is %T, want object", where, k, i, e)
				}
				if err := checkObject(o, sub, fmt.Sprintf("%s.%s[%d]", where, k, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkSortedKeys verifies that every object's keys appear in sorted order.
func checkSortedKeys(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	type frame struct {
		object  bool
		lastKey string
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top != nil && top.object {
					top.wantKey = true
				}
				stack = append(stack, &frame{object: true, wantKey: true})
			case '[':
				if top != nil && top.object {
					top.wantKey = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
		default:
			if top != nil && top.object {
				if top.wantKey {
					k := v.(string)
					if top.lastKey != "" && k <= top.lastKey {
						return fmt.Errorf("key %q after %q: keys not sorted", k, top.lastKey)
					}
					top.lastKey = k
					top.wantKey = false
				} else {
					top.wantKey = true
				}
			}
		}
	}
}

// validateLine checks one JSON line and returns the decoded object.
func validateLine(line []byte) (map[string]any, error) {
	if bytes.Contains(line, []byte("\n")) {
		return nil, fmt.Errorf("line contains a newline: %q", line)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v: %q", err, line)
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one value on a line: %q", line)
	}
	if err := checkSortedKeys(line); err != nil {
		return nil, fmt.Errorf("%v: %s", err, line)
	}
	typ, _ := obj["type"].(string)
	var want map[string]fieldKind
	switch typ {
	case TypeStart:
		want = startFields
	case TypeProgressBytes:
		want = bytesFields
	case TypeProgressSteps:
		want = stepsFields
	default:
		return nil, fmt.Errorf("unknown event type %q: %s", typ, line)
	}
	if err := checkObject(obj, want, typ); err != nil {
		return nil, fmt.Errorf("%v: %s", err, line)
	}
	return obj, nil
}

// validateStream checks a whole --progress-fd stream: every line valid,
// exactly one Start event, first, with version 0.1.0.
func validateStream(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("stream does not end with a newline")
	}
	var out []map[string]any
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(data) == 0 {
			break
		}
		obj, err := validateLine(line)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		isStart := obj["type"] == TypeStart
		if isStart != (i == 0) {
			t.Fatalf("line %d: Start event must be exactly the first line: %s", i+1, line)
		}
		if isStart && obj["version"] != APIVersion {
			t.Errorf("Start version %v, want %s", obj["version"], APIVersion)
		}
		out = append(out, obj)
	}
	return out
}

func TestValidator(t *testing.T) {
	good := []string{
		`{"type":"Start","version":"0.1.0"}`,
		`{"bytes":11,"bytesCached":0,"bytesTotal":42,"description":"somedesc","id":"someid","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":[],"task":"sometask","type":"ProgressBytes"}`,
		`{"description":"somedesc","id":"someid","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":[{"completed":false,"description":"d","id":"i","subtask":"s"}],"task":"sometask","type":"ProgressSteps"}`,
	}
	for _, g := range good {
		if _, err := validateLine([]byte(g)); err != nil {
			t.Errorf("valid line rejected: %v", err)
		}
	}
	bad := map[string]string{
		"missing field":   `{"type":"Start"}`,
		"unknown type":    `{"type":"Other"}`,
		"negative":        `{"bytes":-1,"bytesCached":0,"bytesTotal":42,"description":"d","id":"i","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":[],"task":"t","type":"ProgressBytes"}`,
		"float":           `{"bytes":1.5,"bytesCached":0,"bytesTotal":42,"description":"d","id":"i","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":[],"task":"t","type":"ProgressBytes"}`,
		"null subtasks":   `{"description":"d","id":"i","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":null,"task":"t","type":"ProgressSteps"}`,
		"bad subtask":     `{"description":"d","id":"i","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":[{"completed":"no","description":"d","id":"i","subtask":"s"}],"task":"t","type":"ProgressSteps"}`,
		"unsorted":        `{"version":"0.1.0","type":"Start"}`,
		"extra field":     `{"type":"Start","version":"0.1.0","x":1}`,
		"two values":      `{"type":"Start","version":"0.1.0"}{}`,
		"not json":        `nope`,
		"wrong subtasks":  `{"bytes":1,"bytesCached":0,"bytesTotal":42,"description":"d","id":"i","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":[{"completed":true,"description":"d","id":"i","subtask":"s"}],"task":"t","type":"ProgressBytes"}`,
		"string for uint": `{"bytes":"1","bytesCached":0,"bytesTotal":42,"description":"d","id":"i","steps":0,"stepsCached":0,"stepsTotal":3,"subtasks":[],"task":"t","type":"ProgressBytes"}`,
	}
	for name, b := range bad {
		if _, err := validateLine([]byte(b)); err == nil {
			t.Errorf("%s: invalid line accepted: %s", name, b)
		}
	}
	// The event types marshal with sorted keys and all required fields.
	for _, v := range []any{
		&StartEvent{Type: TypeStart, Version: APIVersion},
		&ProgressBytesEvent{Type: TypeProgressBytes, Subtasks: []SubTaskBytes{{}}},
		&ProgressStepsEvent{Type: TypeProgressSteps, Subtasks: []SubTaskStep{{}}},
	} {
		line := bytes.TrimSuffix(encode(v), []byte("\n"))
		if _, err := validateLine(line); err != nil {
			t.Errorf("%T: %v", v, err)
		}
	}
	if !slices.IsSorted([]string{"bytes", "bytesCached", "bytesTotal", "description", "id", "steps", "stepsCached", "stepsTotal", "subtasks", "task", "type"}) {
		t.Error("field list not sorted")
	}
}
