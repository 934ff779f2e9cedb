package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/term"
)

// IOStreams is where a command reads and writes. Results go to Out; warnings,
// progress and errors go to ErrOut. Colour is used only when the stream is a
// terminal and NO_COLOR is not set.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// OutTTY and ErrTTY say whether Out and ErrOut are terminals.
	OutTTY bool
	ErrTTY bool
	// NoColor turns colour off even on a terminal.
	NoColor bool

	// mu keeps the lines of concurrent workers whole.
	mu sync.Mutex
	// progress is set while a progress line stands on ErrOut.
	progress bool
	// holding keeps the result lines of Resultf in held until Release.
	holding bool
	held    []heldLine
}

// heldLine is a result line kept back, with the key Release orders it by.
type heldLine struct{ key, text string }

// clearProgress wipes the progress line before another line is printed.
func (s *IOStreams) clearProgress() {
	if s.progress {
		fmt.Fprint(s.ErrOut, "\r\x1b[K")
	}
}

// SystemStreams returns the process's standard streams.
func SystemStreams() *IOStreams {
	noColor := os.Getenv("NO_COLOR") != "" // no-color.org: any non-empty value
	return &IOStreams{
		In:      os.Stdin,
		Out:     os.Stdout,
		ErrOut:  os.Stderr,
		OutTTY:  term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY:  term.IsTerminal(int(os.Stderr.Fd())),
		NoColor: noColor || os.Getenv("TERM") == "dumb",
	}
}

// TestStreams returns in-memory streams; tty sets whether they act as a
// terminal.
func TestStreams(tty bool) (s *IOStreams, out, errOut *bytes.Buffer) {
	out, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: errOut, OutTTY: tty, ErrTTY: tty}, out, errOut
}

const (
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiReset  = "\x1b[0m"
)

func (s *IOStreams) paint(tty bool, colour, text string) string {
	if !tty || s.NoColor {
		return text
	}
	return colour + text + ansiReset
}

// Successf prints a result line on Out, green on a terminal.
func (s *IOStreams) Successf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearProgress()
	fmt.Fprintln(s.Out, s.paint(s.OutTTY, ansiGreen, fmt.Sprintf(format, args...)))
}

// Hold keeps the result lines of Resultf back until Release: work done
// side by side then reports in an order that does not depend on which
// worker finished first.
func (s *IOStreams) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding = true
}

// Resultf is Successf for a line about the object key (a namespace, say),
// kept back while Hold is in effect.
func (s *IOStreams) Resultf(key, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holding {
		s.held = append(s.held, heldLine{key: key, text: text})
		return
	}
	s.clearProgress()
	fmt.Fprintln(s.Out, s.paint(s.OutTTY, ansiGreen, text))
}

// Release prints the lines kept back, ordered by key (lines of one key in
// the order they came), and ends the Hold.
func (s *IOStreams) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortStableFunc(s.held, func(a, b heldLine) int { return strings.Compare(a.key, b.key) })
	if len(s.held) > 0 {
		s.clearProgress()
		s.progress = false
	}
	for _, l := range s.held {
		fmt.Fprintln(s.Out, s.paint(s.OutTTY, ansiGreen, l.text))
	}
	s.holding, s.held = false, nil
}

// Printf prints a result line on Out, never coloured.
func (s *IOStreams) Printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearProgress()
	fmt.Fprintf(s.Out, format, args...)
}

// Infof prints a plain line on ErrOut: news that is not the result.
func (s *IOStreams) Infof(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearProgress()
	fmt.Fprintf(s.ErrOut, format+"\n", args...)
}

// Warnf prints "Warning: ..." on ErrOut, yellow on a terminal.
func (s *IOStreams) Warnf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearProgress()
	fmt.Fprintln(s.ErrOut, s.paint(s.ErrTTY, ansiYellow, "Warning: ")+fmt.Sprintf(format, args...))
}

// Errorf prints "error: ..." on ErrOut, red on a terminal.
func (s *IOStreams) Errorf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clearProgress()
	fmt.Fprintln(s.ErrOut, s.paint(s.ErrTTY, ansiRed, "error: ")+fmt.Sprintf(format, args...))
}

// Progress shows "verb done/total" on a terminal's stderr, rewriting one
// line; a pipe never gets it. It returns nil when there is nothing to show.
func (s *IOStreams) Progress(verb string) func(done, total int) {
	if !s.ErrTTY {
		return nil
	}
	highest := 0
	return func(done, total int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		// Workers finish out of order: never step back.
		if done <= highest {
			return
		}
		highest = done
		s.clearProgress()
		s.progress = done < total
		if s.progress {
			fmt.Fprintf(s.ErrOut, "%s %d/%d", verb, done, total)
		}
	}
}
