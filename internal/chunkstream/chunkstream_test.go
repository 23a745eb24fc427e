package chunkstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"testing"
)

func TestSendReadRoundTrip(t *testing.T) {
	for _, size := range []int64{0, 1, Size - 1, Size, Size + 1, 3*Size + 17} {
		data := make([]byte, size)
		rand.New(rand.NewSource(size)).Read(data)
		ch := make(chan *[]byte, 2)
		var progress []int64
		sent := make(chan error, 1)
		go func() {
			defer close(ch)
			sent <- Send(context.Background(), bytes.NewReader(data), size, ch, func(n int64) { progress = append(progress, n) })
		}()
		got, err := io.ReadAll(NewReader(context.Background(), ch))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes (equal %v), err %v", size, len(got), bytes.Equal(got, data), err)
		}
		if err := <-sent; err != nil {
			t.Fatalf("size %d: Send: %v", size, err)
		}
		if want := (size + Size - 1) / Size; int64(len(progress)) != want || (size > 0 && progress[len(progress)-1] != size) {
			t.Fatalf("size %d: progress %v, want %d calls ending at %d", size, progress, want, size)
		}
	}
}

func TestSendErrors(t *testing.T) {
	short := func(ctx context.Context) error {
		return Send(ctx, bytes.NewReader(make([]byte, 10)), Size+10, make(chan *[]byte, 4), nil)
	}
	if err := short(context.Background()); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short content: %v, want io.ErrUnexpectedEOF", err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped")
	cancel(stop)
	// An unbuffered channel nobody reads: Send must end with ctx's cause, not block.
	if err := Send(ctx, bytes.NewReader(make([]byte, 10)), 10, make(chan *[]byte), nil); !errors.Is(err, stop) {
		t.Errorf("ended ctx: %v, want its cause", err)
	}
}

func TestReaderEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped")
	cancel(stop)
	if _, err := NewReader(ctx, make(chan *[]byte)).Read(make([]byte, 1)); !errors.Is(err, stop) {
		t.Errorf("Read after ctx ended: %v, want its cause", err)
	}
}

func TestDrainReturnsChunks(t *testing.T) {
	ch := make(chan *[]byte, 2)
	a, b := Get(), Get()
	*a = (*a)[:1]
	ch <- a
	ch <- b
	close(ch)
	Drain(ch)
	if len(*a) != Size {
		t.Errorf("a drained chunk keeps length %d, want %d", len(*a), Size)
	}
}
