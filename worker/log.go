package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/hibiken/asynq"
)

// asynqLogger adapts a *slog.Logger to asynq's Logger interface.
type asynqLogger struct{ l *slog.Logger }

var _ asynq.Logger = asynqLogger{}

func (a asynqLogger) log(level slog.Level, args ...any) {
	msg := fmt.Sprint(args...)
	// asynq warns about every task it archives; the worker archives a task
	// only after recording the item's final failure, which it logs itself.
	if level == slog.LevelWarn && strings.HasPrefix(msg, "Retry exhausted for task") {
		level = slog.LevelDebug
	}
	a.l.Log(context.Background(), level, msg, slog.String("component", "asynq"))
}

// Debug implements asynq.Logger.
func (a asynqLogger) Debug(args ...any) { a.log(slog.LevelDebug, args...) }

// Info implements asynq.Logger.
func (a asynqLogger) Info(args ...any) { a.log(slog.LevelInfo, args...) }

// Warn implements asynq.Logger.
func (a asynqLogger) Warn(args ...any) { a.log(slog.LevelWarn, args...) }

// Error implements asynq.Logger.
func (a asynqLogger) Error(args ...any) { a.log(slog.LevelError, args...) }

// Fatal implements asynq.Logger: it logs and exits, as the interface
// requires (asynq v0.26 never calls it).
func (a asynqLogger) Fatal(args ...any) {
	a.log(slog.LevelError, args...)
	os.Exit(1)
}
