package gate

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// JUnitSuites is the root element of junit.xml, in the shape common CI
// parsers (Jenkins, GitLab, GitHub reporters) accept. Counts are
// computed from the cases.
type JUnitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	// Name is "icerig gate".
	Name string `xml:"name,attr"`
	// Tests, Failures, Errors and Skipped count the cases of all suites.
	Tests int `xml:"tests,attr"`
	// Failures counts the failed cases.
	Failures int `xml:"failures,attr"`
	// Errors is always 0: the gate reports every problem as a failure.
	Errors int `xml:"errors,attr"`
	// Skipped counts the skipped cases.
	Skipped int `xml:"skipped,attr"`
	// Time is the run's duration in seconds.
	Time string `xml:"time,attr"`
	// Suites are one per step, then "requirements".
	Suites []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one step.
type JUnitSuite struct {
	// Name is the step's name.
	Name string `xml:"name,attr"`
	// Tests counts the cases.
	Tests int `xml:"tests,attr"`
	// Failures counts the failed cases.
	Failures int `xml:"failures,attr"`
	// Errors is always 0.
	Errors int `xml:"errors,attr"`
	// Skipped counts the skipped cases.
	Skipped int `xml:"skipped,attr"`
	// Time is the step's duration in seconds.
	Time string `xml:"time,attr"`
	// Timestamp is when the gate started (ISO 8601, no zone).
	Timestamp string `xml:"timestamp,attr,omitempty"`
	// Props lists the commands the step ran.
	Props *JUnitProperties `xml:"properties,omitempty"`
	// Cases are the step's test cases.
	Cases []JUnitCase `xml:"testcase"`
}

// JUnitProperties holds a suite's properties (the commands it ran).
type JUnitProperties struct {
	// Props are the properties.
	Props []JUnitProperty `xml:"property"`
}

// JUnitProperty is one name/value pair.
type JUnitProperty struct {
	// Name is "command.N".
	Name string `xml:"name,attr"`
	// Value is the command line.
	Value string `xml:"value,attr"`
}

// JUnitCase is one test case.
type JUnitCase struct {
	// Name is the test's name.
	Name string `xml:"name,attr"`
	// Classname is the Go package, or "gate.STEP" / the fixture class.
	Classname string `xml:"classname,attr"`
	// Time is the case's duration in seconds.
	Time string `xml:"time,attr"`
	// Failure is set for a failed case.
	Failure *JUnitMessage `xml:"failure,omitempty"`
	// Skipped is set for a skipped case.
	Skipped *JUnitMessage `xml:"skipped,omitempty"`
}

// JUnitMessage is a failure or skip: a message attribute and a body.
type JUnitMessage struct {
	// Message is the first line of the reason.
	Message string `xml:"message,attr"`
	// Type is "failure", "skipped-step" or "missing".
	Type string `xml:"type,attr,omitempty"`
	// Body is the whole reason and the case's output.
	Body string `xml:",chardata"`
}

// JUnit renders the report as JUnit XML: one testsuite per step with a
// testcase per Go test, fixture check or oracle run. A failure of a step
// that no test case carries (a command that failed, a skipped step, a
// timeout) becomes a failing case of its own, so that the XML fails
// whenever the step did. The gate-level problems (missing cells, actors
// and fixtures) form a last suite, "requirements".
func (r *Report) JUnit() ([]byte, error) {
	root := JUnitSuites{Name: "icerig gate", Time: secs(r.DurationSeconds)}
	for _, s := range r.Steps {
		suite := JUnitSuite{Name: s.Name, Time: secs(s.DurationSeconds), Timestamp: r.Started.Format("2006-01-02T15:04:05")}
		covered := map[string]bool{}
		for _, c := range s.cases {
			jc := JUnitCase{Name: c.Name, Classname: orDefault(c.Class, s.Name), Time: secs(c.Duration.Seconds())}
			switch c.Status {
			case StatusFail:
				jc.Failure = &JUnitMessage{Message: firstLine(c.Message), Type: "failure", Body: c.Message + bodySep(c.Output) + c.Output}
				covered[c.Name+"\x00"+c.Class] = true
			case StatusSkipped:
				jc.Skipped = &JUnitMessage{Message: firstLine(c.Message)}
			}
			suite.Cases = append(suite.Cases, jc)
		}
		for _, f := range s.Failures {
			if covered[f.Test+"\x00"+f.Package] {
				continue
			}
			name := orDefault(f.Test, s.Name)
			if s.Status == StatusSkipped {
				suite.Cases = append(suite.Cases, JUnitCase{Name: name, Classname: "gate." + s.Name, Time: "0.000",
					Failure: &JUnitMessage{Message: firstLine(f.Message), Type: "skipped-step", Body: f.Message}})
				continue
			}
			suite.Cases = append(suite.Cases, JUnitCase{Name: name, Classname: "gate." + s.Name, Time: "0.000",
				Failure: &JUnitMessage{Message: firstLine(f.Message), Type: "failure", Body: f.Message}})
		}
		if len(s.Commands) > 0 {
			suite.Props = &JUnitProperties{}
			for i, c := range s.Commands {
				suite.Props.Props = append(suite.Props.Props, JUnitProperty{Name: fmt.Sprintf("command.%d", i+1), Value: c.Command})
			}
		}
		root.Suites = append(root.Suites, suite)
	}
	req := JUnitSuite{Name: "requirements", Time: "0.000"}
	addReq := func(name, msg string) {
		c := JUnitCase{Name: name, Classname: "gate.requirements", Time: "0.000"}
		if msg != "" {
			c.Failure = &JUnitMessage{Message: msg, Type: "missing", Body: msg}
		}
		req.Cases = append(req.Cases, c)
	}
	addReq("required actors", joinOrEmpty("missing actors: ", r.MissingActors))
	addReq("required fixtures", joinOrEmpty("missing: ", r.MissingFixtures))
	var cells []string
	for _, c := range r.MissingCells {
		cells = append(cells, c.String())
	}
	addReq("required transition cells", joinOrEmpty(fmt.Sprintf("%d of %d required cells never exercised: ", len(cells), len(r.RequiredCells)), cells))
	root.Suites = append(root.Suites, req)

	for i := range root.Suites {
		s := &root.Suites[i]
		s.Tests = len(s.Cases)
		for _, c := range s.Cases {
			if c.Failure != nil {
				s.Failures++
			}
			if c.Skipped != nil {
				s.Skipped++
			}
		}
		root.Tests += s.Tests
		root.Failures += s.Failures
		root.Skipped += s.Skipped
	}
	out, err := xml.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("gate junit: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	const max = 300
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

func bodySep(out string) string {
	if out == "" {
		return ""
	}
	return "\n\n--- output ---\n"
}

func joinOrEmpty(prefix string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	return prefix + strings.Join(items, "; ")
}
