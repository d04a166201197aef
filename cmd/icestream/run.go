package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore/storeurl"
	"github.com/icerig/icerig/streamer"
)

// Exit statuses, as icerig's.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the work failed: storage errors, a failed maintenance step, an invariant
	exitUsage   = 2 // bad usage, unreadable configuration or repository, no access to the target
)

// ConfigEnv names the environment variable giving the default --config.
const ConfigEnv = "ICESTREAM_CONFIG"

// defaultConfig is the --config default when ICESTREAM_CONFIG is unset.
const defaultConfig = "icestream.yaml"

const usageText = `usage: icestream <command> [flags]

commands:
  run       append the data since the last commit (one commit per window)
  ls        list the repositories of the configured instrument and project
  maintain  expire old snapshots and garbage-collect, per repository
  read      print a variable's last rows or a time range

  icestream run [--since-hint T] [--until-hint T] [--config F] [--json]
  icestream ls [--config F] [--json]
  icestream maintain --expire-older-than D [--gc] [--config F] [--json]
  icestream read --var NAME (--last N | --from T --to T) [--config F] [--json]

The target root is $ICESTREAM_TARGET: a local path (default ./data),
file:///abs/path or az://<container>/<prefix> (Azure credentials from
$AZURE_STORAGE_CONNECTION_STRING). --config defaults to $ICESTREAM_CONFIG,
else ./icestream.yaml. Times T are RFC 3339 ("2024-06-01T00:15:00Z");
durations D are Go durations ("36h") or days ("30d").
Exit status: 0 success, 1 failure (storage errors after retries, a failed
maintenance step, a broken invariant), 2 bad usage, unreadable configuration
or repository, or no access to the target. Logs go to stderr.
`

// cli carries one invocation's environment and outputs.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	log            *slog.Logger
}

// run executes one icestream invocation (args without the program name) and
// returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, os.Getenv, args, stdout, stderr)
}

// runEnv is run with the environment read through getenv.
func runEnv(ctx context.Context, getenv func(string) string, args []string, stdout, stderr io.Writer) int {
	c := &cli{getenv: getenv, stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	if len(args) == 0 {
		return c.usageErr("missing command; run 'icestream help' for usage")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	case "run":
		return c.runRun(ctx, args[1:])
	case "ls":
		return c.runLs(ctx, args[1:])
	case "maintain":
		return c.runMaintain(ctx, args[1:])
	case "read":
		return c.runRead(ctx, args[1:])
	}
	return c.usageErr("unknown command %q; run 'icestream help' for usage", args[0])
}

func (c *cli) usageErr(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "icestream: "+format+"\n", args...)
	return exitUsage
}

// fail reports err on one line and maps it to an exit status.
func (c *cli) fail(what string, err error) int {
	switch {
	case errors.Is(err, streamer.ErrNoAccess):
		fmt.Fprintf(c.stderr, "icestream: %s: no access to the target storage (check the credentials and permissions): %v\n", what, err)
		return exitUsage
	case errors.Is(err, streamer.ErrConfig), errors.Is(err, storeurl.ErrBadLocation), errors.Is(err, streamer.ErrUnknownVariable):
		fmt.Fprintf(c.stderr, "icestream: %s: %v\n", what, err)
		return exitUsage
	case errors.Is(err, formatv2.ErrCorrupt), errors.Is(err, formatv2.ErrUnsupportedSpec), errors.Is(err, streamer.ErrRepositoryState):
		fmt.Fprintf(c.stderr, "icestream: %s: unreadable repository: %v\n", what, err)
		return exitUsage
	}
	fmt.Fprintf(c.stderr, "icestream: %s failed: %v\n", what, err)
	return exitFailure
}

// flags is a command's flag set with the common flags.
type flags struct {
	*flag.FlagSet
	config *string
	json   *bool
}

func (c *cli) newFlags(name string) flags {
	fs := flag.NewFlagSet("icestream "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	def := c.getenv(ConfigEnv)
	if def == "" {
		def = defaultConfig
	}
	return flags{
		FlagSet: fs,
		config:  fs.String("config", def, "configuration file (YAML)"),
		json:    fs.Bool("json", false, "print JSON"),
	}
}

// parse parses args; ok is false with the exit status to return.
func (c *cli) parse(f flags, args []string) (code int, ok bool) {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if f.NArg() > 0 {
		return c.usageErr("%s: unexpected arguments %q", f.Name(), f.Args()), false
	}
	return 0, true
}

// open loads the configuration and opens the target and the streamer.
func (c *cli) open(ctx context.Context, f flags) (*streamer.Streamer, string, int) {
	cfg, err := streamer.LoadConfig(*f.config)
	if err != nil {
		return nil, "", c.fail("configuration", err)
	}
	raw := c.getenv(streamer.TargetEnv)
	if raw == "" {
		raw = streamer.DefaultTarget
	}
	target, err := streamer.OpenTargetConn(ctx, raw, c.getenv(storeurl.ConnectionStringEnv), nil)
	if err != nil {
		return nil, "", c.fail("target "+raw, err)
	}
	s, err := streamer.New(cfg, target, streamer.Options{Logger: c.log})
	if err != nil {
		return nil, "", c.fail("configuration", err)
	}
	return s, raw, exitOK
}

// timeFlag is an optional RFC 3339 time flag.
type timeFlag struct{ t time.Time }

func (v *timeFlag) String() string {
	if v.t.IsZero() {
		return ""
	}
	return v.t.Format(time.RFC3339Nano)
}

func (v *timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time like 2024-06-01T00:15:00Z: %w", err)
	}
	v.t = t.UTC()
	return nil
}

// parseDuration accepts Go durations and whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("bad duration %q: want a number of days like 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a Go duration like 36h or days like 30d", s)
	}
	return d, nil
}

func (c *cli) runRun(ctx context.Context, args []string) int {
	f := c.newFlags("run")
	var since, until timeFlag
	f.Var(&since, "since-hint", "start no earlier than this time (honoured only when later than the last commit)")
	f.Var(&until, "until-hint", "end of the last window (default now)")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	s, raw, code := c.open(ctx, f)
	if s == nil {
		return code
	}
	enc := json.NewEncoder(c.stdout)
	progress := func(w streamer.WindowReport) {
		if *f.json {
			_ = enc.Encode(struct {
				Type string `json:"type"`
				streamer.WindowReport
			}{"window", w})
			return
		}
		fmt.Fprintf(c.stdout, "window (%s, %s] repository=%s rows=%d high_res_rows=%d bytes=%d seconds=%.3f\n",
			w.From.Format(time.RFC3339Nano), w.Until.Format(time.RFC3339Nano), w.Repository, w.Rows, w.HighResRows, w.BytesWritten, w.Seconds)
	}
	s.SetProgress(progress)
	rep, err := s.Run(ctx, streamer.Hints{Since: since.t, Until: until.t})
	if err != nil {
		return c.fail("run into "+raw, err)
	}
	if *f.json {
		_ = enc.Encode(struct {
			Type     string    `json:"type"`
			From     time.Time `json:"from"`
			Until    time.Time `json:"until"`
			UpToDate bool      `json:"up_to_date"`
			Windows  int       `json:"windows"`
			Retries  int64     `json:"retries"`
		}{"summary", rep.From, rep.Until, rep.UpToDate, len(rep.Windows), rep.Retries})
	} else if rep.UpToDate {
		fmt.Fprintf(c.stdout, "up to date: last commit ends at %s, until-hint %s\n", rep.From.Format(time.RFC3339Nano), rep.Until.Format(time.RFC3339Nano))
	}
	return exitOK
}

func (c *cli) runLs(ctx context.Context, args []string) int {
	f := c.newFlags("ls")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	s, raw, code := c.open(ctx, f)
	if s == nil {
		return code
	}
	repos, err := s.List(ctx)
	if err != nil {
		return c.fail("ls "+raw, err)
	}
	if *f.json {
		return c.printJSON(repos)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tSPEC\tLAST WINDOW ENDS\tROWS\tSETTINGS")
	for _, r := range repos {
		switch {
		case r.Error != "":
			fmt.Fprintf(tw, "%s\t-\terror: %s\t\t\n", r.Name, r.Error)
		case r.Last == nil:
			fmt.Fprintf(tw, "%s\t%d\t(no window)\t0\t\n", r.Name, r.SpecVersion)
		default:
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", r.Name, r.SpecVersion, r.Last.Until.Format(time.RFC3339Nano), r.Last.TotalRows, r.Last.Fingerprint)
		}
	}
	_ = tw.Flush()
	return exitOK
}

func (c *cli) runMaintain(ctx context.Context, args []string) int {
	f := c.newFlags("maintain")
	older := f.String("expire-older-than", "", "expire snapshots older than this (e.g. 30d); also the GC cutoff")
	gc := f.Bool("gc", false, "garbage-collect unreachable objects older than the cutoff")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	if *older == "" {
		return c.usageErr("maintain: --expire-older-than is required")
	}
	d, err := parseDuration(*older)
	if err != nil || d <= 0 {
		if err == nil {
			err = fmt.Errorf("must be positive")
		}
		return c.usageErr("maintain: --expire-older-than: %v", err)
	}
	s, raw, code := c.open(ctx, f)
	if s == nil {
		return code
	}
	rep, err := s.Maintain(ctx, streamer.MaintainOptions{ExpireOlderThan: d, GC: *gc})
	if err != nil {
		return c.fail("maintain "+raw, err)
	}
	if *f.json {
		if code := c.printJSON(rep); code != exitOK {
			return code
		}
	} else {
		fmt.Fprintf(c.stdout, "cutoff %s\n", rep.Cutoff.Format(time.RFC3339Nano))
		for _, r := range rep.Repositories {
			for _, st := range r.Steps {
				line := fmt.Sprintf("%s %s: %s", r.Repository, st.Step, st.Outcome)
				if st.Error != "" {
					line += ": " + st.Error
				}
				if len(st.Details) > 0 {
					d, _ := json.Marshal(st.Details)
					line += " " + string(d)
				}
				fmt.Fprintln(c.stdout, line)
			}
		}
	}
	if rep.Failed {
		fmt.Fprintln(c.stderr, "icestream: maintain: some steps failed (see the report)")
		return exitFailure
	}
	return exitOK
}

func (c *cli) runRead(ctx context.Context, args []string) int {
	f := c.newFlags("read")
	name := f.String("var", "", "variable to read (e.g. ch4)")
	last := f.Int("last", 0, "read the last N rows")
	var from, to timeFlag
	f.Var(&from, "from", "read rows with timestamps from this time (inclusive)")
	f.Var(&to, "to", "read rows with timestamps up to this time (inclusive)")
	if code, ok := c.parse(f, args); !ok {
		return code
	}
	switch {
	case *name == "":
		return c.usageErr("read: --var is required")
	case *last < 0:
		return c.usageErr("read: --last must be positive")
	case *last > 0 && (!from.t.IsZero() || !to.t.IsZero()):
		return c.usageErr("read: give either --last or --from and --to, not both")
	case *last == 0 && (from.t.IsZero() || to.t.IsZero()):
		return c.usageErr("read: give --last N, or --from T and --to T")
	case *last == 0 && to.t.Before(from.t):
		return c.usageErr("read: --to is before --from")
	}
	s, raw, code := c.open(ctx, f)
	if s == nil {
		return code
	}
	series, err := s.Read(ctx, streamer.ReadRequest{Variable: *name, Last: *last, From: from.t, To: to.t})
	if err != nil {
		return c.fail("read "+raw, err)
	}
	if *f.json {
		return c.printJSON(seriesJSON(series))
	}
	for i, ts := range series.Timestamps {
		row := series.Values[i*series.Width : (i+1)*series.Width]
		parts := make([]string, len(row))
		for j, v := range row {
			parts[j] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		fmt.Fprintf(c.stdout, "%s\t%s\n", time.Unix(0, ts).UTC().Format(time.RFC3339Nano), strings.Join(parts, " "))
	}
	return exitOK
}

// seriesOut is the JSON form of a read.
type seriesOut struct {
	Variable     string   `json:"variable"`
	Dimension    string   `json:"dimension"`
	Width        int      `json:"width"`
	Timestamps   []string `json:"timestamps"`
	Values       []any    `json:"values"`
	Repositories []string `json:"repositories"`
}

// seriesJSON renders times as RFC 3339 and non-finite floats as the strings
// "NaN", "Infinity" and "-Infinity", as icerig read does. Rows of width > 1
// become lists.
func seriesJSON(s *streamer.Series) seriesOut {
	out := seriesOut{Variable: s.Variable, Dimension: s.Dimension, Width: s.Width, Repositories: s.Repositories,
		Timestamps: make([]string, len(s.Timestamps)), Values: make([]any, len(s.Timestamps))}
	for i, ts := range s.Timestamps {
		out.Timestamps[i] = time.Unix(0, ts).UTC().Format(time.RFC3339Nano)
		row := s.Values[i*s.Width : (i+1)*s.Width]
		if s.Width == 1 {
			out.Values[i] = jsonFloat(row[0])
			continue
		}
		vals := make([]any, len(row))
		for j, v := range row {
			vals[j] = jsonFloat(v)
		}
		out.Values[i] = vals
	}
	return out
}

func jsonFloat(v float64) any {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return v
}

func (c *cli) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(c.stderr, "icestream: encode JSON: %v\n", err)
		return exitFailure
	}
	return exitOK
}
