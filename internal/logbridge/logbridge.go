// Package logbridge routes the messages of libraries that log through logrus
// (containers/storage, containers/image) into bootc's zerolog logger, so that they obey
// --log-level and come out in bootc's format, or not at all. Without it their messages,
// such as `level=info msg="[graphdriver] using prior storage driver: overlay"`, reach
// the terminal at logrus's own default level (info).
package logbridge

import (
	"io"
	"sync"

	"github.com/rs/zerolog"
	"github.com/sirupsen/logrus"
)

// Route makes logrus's standard logger write nothing itself and hand every entry at or
// above log's level to log, with its fields, at the matching zerolog level (logrus's
// fatal and panic as error: the library still exits or panics after logging). logrus's
// level is set from log's, so entries below it are not even built. Calling Route again
// replaces the previous routing.
func Route(log zerolog.Logger) {
	l := logrus.StandardLogger()
	mu.Lock()
	defer mu.Unlock()
	l.SetOutput(io.Discard)
	l.SetFormatter(nopFormatter{})
	l.SetLevel(logrusLevel(log.GetLevel()))
	l.ReplaceHooks(logrus.LevelHooks{})
	l.AddHook(&hook{log: log})
}

// mu serializes Route's changes of the standard logger.
var mu sync.Mutex

// logrusLevel is the logrus level letting through what level lets through.
func logrusLevel(level zerolog.Level) logrus.Level {
	switch {
	case level <= zerolog.TraceLevel:
		return logrus.TraceLevel
	case level == zerolog.DebugLevel:
		return logrus.DebugLevel
	case level == zerolog.InfoLevel:
		return logrus.InfoLevel
	case level == zerolog.WarnLevel:
		return logrus.WarnLevel
	case level == zerolog.ErrorLevel:
		return logrus.ErrorLevel
	case level == zerolog.FatalLevel:
		return logrus.FatalLevel
	}
	return logrus.PanicLevel
}

// zerologLevel is the zerolog level of a logrus entry.
func zerologLevel(level logrus.Level) zerolog.Level {
	switch level {
	case logrus.TraceLevel:
		return zerolog.TraceLevel
	case logrus.DebugLevel:
		return zerolog.DebugLevel
	case logrus.InfoLevel:
		return zerolog.InfoLevel
	case logrus.WarnLevel:
		return zerolog.WarnLevel
	}
	return zerolog.ErrorLevel
}

// hook passes logrus entries to a zerolog logger.
type hook struct {
	log zerolog.Logger
}

// Levels implements logrus.Hook: every level (logrus filters by its own level first).
func (h *hook) Levels() []logrus.Level { return logrus.AllLevels }

// Fire implements logrus.Hook.
func (h *hook) Fire(e *logrus.Entry) error {
	ev := h.log.WithLevel(zerologLevel(e.Level))
	if ev == nil {
		return nil
	}
	for k, v := range e.Data {
		if err, ok := v.(error); ok && k == logrus.ErrorKey {
			ev = ev.Err(err)
			continue
		}
		ev = ev.Interface(k, v)
	}
	ev.Msg(e.Message)
	return nil
}

// nopFormatter formats nothing: the hook has the entry already.
type nopFormatter struct{}

// Format implements logrus.Formatter.
func (nopFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }
