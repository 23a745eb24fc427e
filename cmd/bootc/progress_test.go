package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestSwitchProgressStaging: after the pulling task, bootc switch --progress-fd reports
// upstream's staging task ("Deploying Image": merging, bound images, deploying, cleanup,
// each completed at the end) with the image written into containers-storage as a status
// that begins and ends, so that the stream moves until the switch is done.
func TestSwitchProgressStaging(t *testing.T) {
	h := newTestHost(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fd, err := syscall.Dup(int(w.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	var data bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = data.ReadFrom(r)
	}()
	img := writeOCI(t, filepath.Join(t.TempDir(), "oci"), "v1", bootableImage("1"))
	h.bootc(t, "switch", "--quiet", "--progress-fd", strconv.Itoa(fd), "--transport", "oci", img)
	<-read

	type sub struct {
		Subtask   string `json:"subtask"`
		Completed *bool  `json:"completed"`
	}
	var tasks []string
	var last struct {
		Task     string `json:"task"`
		Type     string `json:"type"`
		Steps    uint64 `json:"steps"`
		Total    uint64 `json:"stepsTotal"`
		Subtasks []sub  `json:"subtasks"`
	}
	storing := map[bool]bool{}
	sc := bufio.NewScanner(&data)
	for sc.Scan() {
		if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		if last.Type == "Start" {
			continue
		}
		if len(tasks) == 0 || tasks[len(tasks)-1] != last.Task {
			tasks = append(tasks, last.Task)
		}
		for _, s := range last.Subtasks {
			if s.Subtask == "storing" && s.Completed != nil {
				storing[*s.Completed] = true
			}
		}
	}
	if !slices.Equal(tasks, []string{"pulling", "staging"}) {
		t.Errorf("tasks %v, want pulling then staging:\n%s", tasks, data.String())
	}
	var kinds []string
	for _, s := range last.Subtasks {
		kinds = append(kinds, s.Subtask)
		if s.Completed == nil || !*s.Completed {
			t.Errorf("the staging task ended with %s not completed", s.Subtask)
		}
	}
	if got := strings.Join(kinds, ","); last.Task != "staging" || got != "merging,bound_images,deploying,cleanup,storing" || last.Steps != 4 || last.Total != 4 {
		t.Errorf("last event: task %s, subtasks %s, steps %d/%d; want staging, merging,bound_images,deploying,cleanup,storing, 4/4", last.Task, got, last.Steps, last.Total)
	}
	if !storing[false] || !storing[true] {
		t.Errorf("the storing status did not begin and end: %v", storing)
	}
}
