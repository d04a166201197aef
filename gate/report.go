package gate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/icerig/icerig/internal/transitions"
)

// Report is the outcome of one gate run; gate-report.json holds it.
type Report struct {
	// Pass is the verdict: every step passed and nothing required is
	// missing.
	Pass bool `json:"pass"`
	// Started is when the run began (UTC).
	Started time.Time `json:"started"`
	// DurationSeconds is the wall time of the whole run.
	DurationSeconds float64 `json:"duration_seconds"`
	// Budget is Config.Budget.
	Budget float64 `json:"budget"`
	// ModuleDir and OutDir are the directories of the run.
	ModuleDir string `json:"module_dir"`
	// OutDir is where the reports and logs are.
	OutDir string `json:"out_dir"`
	// Steps are the steps' results, in order.
	Steps []*StepResult `json:"steps"`
	// Cells are the transition cells exercised, with counts, merged over
	// the steps.
	Cells []transitions.Entry `json:"cells"`
	// RequiredCells are the cells the gate requires (see the function
	// RequiredCells).
	RequiredCells []transitions.Cell `json:"required_cells"`
	// MissingCells are the required cells never exercised.
	MissingCells []transitions.Cell `json:"missing_cells"`
	// Actors are the built-in actors' names.
	Actors []string `json:"actors"`
	// MissingActors are the required actors not built in.
	MissingActors []string `json:"missing_actors"`
	// MissingFixtures names every required fixture repository or fixture
	// set that is not there.
	MissingFixtures []string `json:"missing_fixtures"`
	// Problems lists, in words, every reason the gate fails.
	Problems []string `json:"problems"`
}

// StepResult is the outcome of one step.
type StepResult struct {
	// Name is the step's name.
	Name string `json:"name"`
	// Status is pass, fail or skipped.
	Status Status `json:"status"`
	// DurationSeconds is the step's wall time.
	DurationSeconds float64 `json:"duration_seconds"`
	// Commands are the commands the step ran, in order.
	Commands []CommandResult `json:"commands"`
	// Tests counts the step's test cases.
	Tests TestCounts `json:"tests"`
	// Failures are the step's failures; a step with any failed.
	Failures []Failure `json:"failures"`
	// Cells is the number of cell exercises the step contributed.
	Cells int `json:"cells"`

	cases []TestCase
}

// TestCounts counts test cases by outcome.
type TestCounts struct {
	// Total is the number of cases.
	Total int `json:"total"`
	// Passed cases.
	Passed int `json:"passed"`
	// Failed cases.
	Failed int `json:"failed"`
	// Skipped cases.
	Skipped int `json:"skipped"`
}

// Failure is one reason a step failed.
type Failure struct {
	// Test names what failed: a Go test, a fixture, an oracle run or a
	// command; empty for the step as a whole.
	Test string `json:"test,omitempty"`
	// Package is the Go package of a failed Go test (or the class of
	// another test case).
	Package string `json:"package,omitempty"`
	// Message says what went wrong (for a Go test, the end of its
	// output).
	Message string `json:"message"`
}

// TestCase is one JUnit test case: a Go test, a fixture check, an oracle
// run or a command.
type TestCase struct {
	// Name is the test's name.
	Name string
	// Class groups cases (the Go package; the fixture set).
	Class string
	// Status is pass, fail or skipped.
	Status Status
	// Duration is the case's run time.
	Duration time.Duration
	// Message is a one-paragraph reason for a failure or skip.
	Message string
	// Output is the case's full output (the JUnit failure body or
	// system-out).
	Output string
}

// CommandResult is one command a step ran.
type CommandResult struct {
	// Command is the command line, shell-quoted.
	Command string `json:"command"`
	// Dir is its working directory.
	Dir string `json:"dir"`
	// ExitCode is the exit status; -1 when the command did not start or
	// was killed.
	ExitCode int `json:"exit_code"`
	// DurationSeconds is its wall time.
	DurationSeconds float64 `json:"duration_seconds"`
	// TimedOut: the command was killed at its (or the step's) timeout.
	TimedOut bool `json:"timed_out,omitempty"`
	// Error says why the command could not run or was killed.
	Error string `json:"error,omitempty"`
	// Log is the file holding its stdout and stderr.
	Log string `json:"log"`

	// Stdout and Stderr are the captured output.
	Stdout []byte `json:"-"`
	// Stderr is the captured standard error.
	Stderr []byte `json:"-"`
}

// OK reports whether the command ran and exited 0.
func (c CommandResult) OK() bool { return c.ExitCode == 0 && c.Error == "" }

// finish computes the verdict and the problem list.
func (r *Report) finish(end time.Time) {
	r.DurationSeconds = end.Sub(r.Started).Seconds()
	r.Problems = nil
	for _, s := range r.Steps {
		switch s.Status {
		case StatusPass:
		case StatusSkipped:
			r.Problems = append(r.Problems, fmt.Sprintf("step %s was skipped: the gate is incomplete", s.Name))
		default:
			r.Problems = append(r.Problems, fmt.Sprintf("step %s failed (%d failure(s))", s.Name, len(s.Failures)))
		}
	}
	for _, a := range r.MissingActors {
		r.Problems = append(r.Problems, fmt.Sprintf("required actor %s is not built in", a))
	}
	for _, f := range r.MissingFixtures {
		r.Problems = append(r.Problems, "missing fixture: "+f)
	}
	for _, c := range r.MissingCells {
		r.Problems = append(r.Problems, "required cell never exercised: "+c.String())
	}
	r.Pass = len(r.Problems) == 0
	// Empty lists, not null, in the JSON.
	if r.Cells == nil {
		r.Cells = []transitions.Entry{}
	}
	if r.MissingCells == nil {
		r.MissingCells = []transitions.Cell{}
	}
	if r.RequiredCells == nil {
		r.RequiredCells = []transitions.Cell{}
	}
	for _, p := range []*[]string{&r.Actors, &r.MissingActors, &r.MissingFixtures, &r.Problems} {
		if *p == nil {
			*p = []string{}
		}
	}
	for _, s := range r.Steps {
		if s.Commands == nil {
			s.Commands = []CommandResult{}
		}
		if s.Failures == nil {
			s.Failures = []Failure{}
		}
	}
}

// writeFiles writes the report, the JUnit file and the summary.
func (r *Report) writeFiles() error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("gate report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.OutDir, ReportFile), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("gate report: %w", err)
	}
	x, err := r.JUnit()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(r.OutDir, JUnitFile), x, 0o644); err != nil {
		return fmt.Errorf("gate junit: %w", err)
	}
	if err := os.WriteFile(filepath.Join(r.OutDir, SummaryFile), []byte(r.Summary()), 0o644); err != nil {
		return fmt.Errorf("gate summary: %w", err)
	}
	return nil
}

// ReadReport reads a gate-report.json.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gate report: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("gate report %s: %w", path, err)
	}
	return &r, nil
}

// formatDuration renders seconds as "1m02.5s" or "3.2s".
func formatDuration(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%04.1fs", int(d.Minutes()), d.Seconds()-60*float64(int(d.Minutes())))
}
