package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/storeurl"
	"github.com/icerig/icerig/streamer"
	"github.com/icerig/icerig/streamer/source"
	"github.com/icerig/icerig/zarr"
)

func TestMain(m *testing.M) { os.Exit(azurite.Main(m)) }

var day0 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// testYAML is the configuration of the end-to-end tests: a few variables,
// so a simulated day of 96 runs stays quick.
const testYAML = `source:
  instrument: gm01
  project: ch4-flux
  gas_id: 1
  seed: 11
variables: [ch4, h2o, measurement_validity]
`

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "icestream.yaml")
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o644))
	return p
}

// env is an invocation's environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

func icestream(t *testing.T, e env, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, er bytes.Buffer
	code = runEnv(context.Background(), e.get, args, &o, &er)
	return o.String(), er.String(), code
}

func testSource(t *testing.T, doc string) *source.Source {
	t.Helper()
	cfg, err := streamer.ParseConfig("test", []byte(doc))
	require.NoError(t, err)
	src, err := source.New(cfg.SourceConfig())
	require.NoError(t, err)
	return src
}

// simulateDay runs icestream every 15 minutes of a simulated day, checks
// the output, reads the data back with icestream read and inspects the
// repository with formatv2.
func simulateDay(t *testing.T, e env) {
	cfg := writeConfig(t, testYAML)
	target := e[streamer.TargetEnv]
	for i := 1; i <= 96; i++ {
		args := []string{"run", "--config", cfg, "--until-hint", day0.Add(time.Duration(i) * 15 * time.Minute).Format(time.RFC3339)}
		if i == 1 {
			args = append(args, "--since-hint", day0.Format(time.RFC3339))
		}
		if i%2 == 0 {
			args = append(args, "--json")
		}
		out, errOut, code := icestream(t, e, args...)
		require.Equal(t, exitOK, code, "run %d: %s", i, errOut)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if i%2 == 1 {
			require.Len(t, lines, 1, "run %d: one progress line per window", i)
			assert.Regexp(t, `^window \(\S+, \S+\] repository=inst-gm01-prj-ch4-flux-2024-06-01t00-00-00zl1b rows=6\d\d high_res_rows=0 bytes=\d+ seconds=\d+\.\d+$`, lines[0])
			continue
		}
		require.Len(t, lines, 2, "run %d: a window and the summary", i)
		var w struct {
			Type         string    `json:"type"`
			From, Until  time.Time `json:"-"`
			Rows         int       `json:"rows"`
			BytesWritten int64     `json:"bytes"`
			Seconds      float64   `json:"seconds"`
		}
		require.NoError(t, json.Unmarshal([]byte(lines[0]), &w))
		assert.Equal(t, "window", w.Type)
		assert.InDelta(t, 630, w.Rows, 2)
		assert.Positive(t, w.BytesWritten)
		var sum struct {
			Type     string `json:"type"`
			Windows  int    `json:"windows"`
			UpToDate bool   `json:"up_to_date"`
		}
		require.NoError(t, json.Unmarshal([]byte(lines[1]), &sum))
		assert.Equal(t, "summary", sum.Type)
		assert.Equal(t, 1, sum.Windows)
	}
	out, _, code := icestream(t, e, "run", "--config", cfg, "--until-hint", day0.Add(24*time.Hour).Format(time.RFC3339))
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "up to date")

	src := testSource(t, testYAML)
	want, err := src.ReadParts(day0, day0.Add(24*time.Hour), source.PartTimestamp)
	require.NoError(t, err)
	n := want.Len()

	// icestream read: the last 100 rows, and one hour.
	out, errOut, code := icestream(t, e, "read", "--config", cfg, "--var", "ch4", "--last", "100", "--json")
	require.Equal(t, exitOK, code, errOut)
	var got struct {
		Variable     string    `json:"variable"`
		Timestamps   []string  `json:"timestamps"`
		Values       []float64 `json:"values"`
		Repositories []string  `json:"repositories"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.Len(t, got.Timestamps, 100)
	for i := range 100 {
		assert.Equal(t, time.Unix(0, want.Timestamps[n-100+i]).UTC().Format(time.RFC3339Nano), got.Timestamps[i])
		assert.Equal(t, want.Float64["ch4"][n-100+i], got.Values[i])
	}
	from, to := day0.Add(6*time.Hour), day0.Add(7*time.Hour)
	out, errOut, code = icestream(t, e, "read", "--config", cfg, "--var", "measurement_validity", "--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339))
	require.Equal(t, exitOK, code, errOut)
	hour, err := src.ReadParts(from, to, source.PartTimestamp)
	require.NoError(t, err)
	sc := bufio.NewScanner(strings.NewReader(out))
	rows := 0
	for sc.Scan() {
		ts, val, ok := strings.Cut(sc.Text(), "\t")
		require.True(t, ok, sc.Text())
		assert.Equal(t, time.Unix(0, hour.Timestamps[rows]).UTC().Format(time.RFC3339Nano), ts)
		assert.Equal(t, []string{"0", "1"}[hour.Int32["measurement_validity"][rows]], val)
		rows++
	}
	assert.Equal(t, hour.Len(), rows)

	// icestream ls.
	out, errOut, code = icestream(t, e, "ls", "--config", cfg, "--json")
	require.Equal(t, exitOK, code, errOut)
	var repos []streamer.RepoSummary
	require.NoError(t, json.Unmarshal([]byte(out), &repos))
	require.Len(t, repos, 1)
	assert.Equal(t, "inst-gm01-prj-ch4-flux-2024-06-01t00-00-00zl1b", repos[0].Name)
	require.NotNil(t, repos[0].Last)
	assert.Equal(t, day0.Add(24*time.Hour), repos[0].Last.Until)
	assert.Equal(t, n, repos[0].Last.TotalRows)

	// Inspect the repository with the library directly.
	ctx := context.Background()
	tgt, err := streamer.OpenTargetConn(ctx, target, e[storeurl.ConnectionStringEnv], nil)
	require.NoError(t, err)
	sub, err := streamer.SubStore(tgt, repos[0].Path)
	require.NoError(t, err)
	repo, err := formatv2.Open(ctx, sub, formatv2.Options{})
	require.NoError(t, err)
	assert.Equal(t, formatv2.SpecVersion2, repo.SpecVersion())
	findings, err := repo.Fsck(ctx)
	require.NoError(t, err)
	assert.Empty(t, findings)
	tip, err := repo.LookupBranch(ctx, "main")
	require.NoError(t, err)
	anc, err := repo.Ancestry(ctx, tip)
	require.NoError(t, err)
	assert.Len(t, anc, 97, "96 windows on the initial snapshot")
	tags, err := repo.ListTags(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]formatv2.ObjectID{source.StartTagName(source.Fingerprint(source.DefaultSettings())): anc[95].ID}, tags)
	sess, err := repo.ReadonlySession(ctx, formatv2.BranchRef("main"))
	require.NoError(t, err)
	ts := readArray(t, sess, "timestamp").([]int64)
	require.Len(t, ts, n)
	for i, us := range ts {
		if us != source.NanosToMicros(want.Timestamps[i]) {
			t.Fatalf("timestamp[%d] = %d, source has %d", i, us, source.NanosToMicros(want.Timestamps[i]))
		}
	}
	ch4 := readArray(t, sess, "ch4").([]float64)
	assert.Equal(t, want.Float64["ch4"], ch4)

	// Maintenance keeps the data: nothing is older than a day here.
	out, errOut, code = icestream(t, e, "maintain", "--config", cfg, "--expire-older-than", "1d", "--gc", "--json")
	require.Equal(t, exitOK, code, errOut)
	var mrep streamer.MaintainReport
	require.NoError(t, json.Unmarshal([]byte(out), &mrep))
	require.Len(t, mrep.Repositories, 1)
	for _, st := range mrep.Repositories[0].Steps {
		assert.Equal(t, streamer.OutcomeOK, st.Outcome, st.Step)
	}
}

func readArray(t *testing.T, sess *formatv2.Session, name string) any {
	t.Helper()
	ctx := context.Background()
	doc, err := sess.Get(ctx, name+"/zarr.json")
	require.NoError(t, err)
	meta, err := zarr.ParseMetadata(name, doc)
	require.NoError(t, err)
	vals, err := zarr.ReadArray(meta.Array, func(coords []uint32) ([]byte, bool, error) {
		b, err := sess.Get(ctx, zarr.ChunkKey("/"+name, coords, meta.Array.ChunkKeyEncoding))
		if errors.Is(err, formatv2.ErrKeyNotFound) {
			return nil, false, nil
		}
		return b, err == nil, err
	})
	require.NoError(t, err)
	return vals
}

func TestDayLocal(t *testing.T) {
	t.Parallel()
	simulateDay(t, env{streamer.TargetEnv: filepath.Join(t.TempDir(), "data")})
}

func TestDayAzurite(t *testing.T) {
	t.Parallel()
	srv := azurite.Shared(t)
	simulateDay(t, env{streamer.TargetEnv: "az://" + srv.Container(t) + "/streams", storeurl.ConnectionStringEnv: srv.ConnectionString()})
}

func TestNoAccessExitsTwo(t *testing.T) {
	t.Parallel()
	srv := azurite.Shared(t)
	cfg := writeConfig(t, testYAML)
	bad := strings.Replace(srv.ConnectionString(), azurite.AccountKey, strings.Repeat("B", 86)+"==", 1)
	e := env{storeurl.ConnectionStringEnv: bad, streamer.TargetEnv: "az://" + srv.Container(t) + "/streams"}
	for _, cmd := range [][]string{{"run"}, {"ls"}, {"read", "--var", "ch4", "--last", "1"}, {"maintain", "--expire-older-than", "1d"}} {
		out, errOut, code := icestream(t, e, append(cmd, "--config", cfg)...)
		assert.Equal(t, exitUsage, code, cmd)
		assert.Empty(t, out)
		assert.Contains(t, errOut, "no access to the target storage", cmd)
		assert.Contains(t, errOut, "403", cmd)
	}
}

func TestMissingTargetIsCreated(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, testYAML)
	target := filepath.Join(t.TempDir(), "not", "yet")
	e := env{streamer.TargetEnv: target}
	out, errOut, code := icestream(t, e, "ls", "--config", cfg)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, 1, strings.Count(out, "\n"), "just the header")
	_, errOut, code = icestream(t, e, "run", "--config", cfg, "--until-hint", day0.Format(time.RFC3339))
	require.Equal(t, exitOK, code, errOut)
	infos, err := os.ReadDir(filepath.Join(target, "gm01", "ch4-flux"))
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "inst-gm01-prj-ch4-flux-2024-05-31t23-45-00zl1b", infos[0].Name(), "a first run starts streaming_minutes before until")
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, testYAML)
	e := env{streamer.TargetEnv: t.TempDir()}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "missing command"},
		{[]string{"push"}, `unknown command "push"`},
		{[]string{"run", "--config", cfg, "--until-hint", "yesterday"}, "RFC 3339"},
		{[]string{"run", "--config", cfg, "extra"}, "unexpected arguments"},
		{[]string{"run", "--config", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{[]string{"run", "--config", writeConfig(t, "source: {instrument: gm01, project: p}\nmax_window: 0.5s\n")}, "max_window"},
		{[]string{"read", "--config", cfg, "--var", "ch4"}, "--last N"},
		{[]string{"read", "--config", cfg, "--var", "ch4", "--last", "3", "--from", "2024-06-01T00:00:00Z"}, "not both"},
		{[]string{"read", "--config", cfg, "--last", "3"}, "--var is required"},
		{[]string{"read", "--config", cfg, "--var", "ch5", "--last", "3"}, "unknown variable"},
		{[]string{"maintain", "--config", cfg}, "--expire-older-than is required"},
		{[]string{"maintain", "--config", cfg, "--expire-older-than", "soon"}, "bad duration"},
	} {
		out, errOut, code := icestream(t, e, tc.args...)
		assert.Equal(t, exitUsage, code, "%v: %s", tc.args, errOut)
		assert.Empty(t, out, tc.args)
		assert.Contains(t, errOut, tc.want, tc.args)
	}
	// An az:// target without credentials is a usage error.
	_, errOut, code := icestream(t, env{streamer.TargetEnv: "az://some-container/x"}, "ls", "--config", cfg)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "AZURE_STORAGE_CONNECTION_STRING is not set")
	out, _, code := icestream(t, e, "help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "icestream run [--since-hint T] [--until-hint T] [--config F] [--json]")
}

func TestMaintainReportsFailedStep(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, testYAML)
	dir := t.TempDir()
	e := env{streamer.TargetEnv: dir}
	_, errOut, code := icestream(t, e, "run", "--config", cfg, "--until-hint", day0.Format(time.RFC3339))
	require.Equal(t, exitOK, code, errOut)
	// Damage the repository: its repo object no longer decodes.
	refs, err := streamer.Discover(context.Background(), mustLocal(t, dir), "gm01", "ch4-flux")
	require.NoError(t, err)
	require.Len(t, refs, 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(refs[0].Path), "repo"), []byte("garbage"), 0o644))
	out, errOut, code := icestream(t, e, "maintain", "--config", cfg, "--expire-older-than", "30d", "--gc")
	assert.Equal(t, exitFailure, code, errOut)
	assert.Contains(t, out, "open: failed")
	assert.Contains(t, out, "expire: not-run")
	assert.Contains(t, out, "gc: not-run")
	assert.NotContains(t, out, "skipped")
	assert.Contains(t, errOut, "some steps failed")

	// Appending to it is refused as unreadable, not retried as a failure.
	out, errOut, code = icestream(t, e, "run", "--config", cfg, "--until-hint", day0.Add(time.Hour).Format(time.RFC3339))
	assert.Equal(t, exitUsage, code, errOut)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "unreadable repository")
	assert.Contains(t, errOut, refs[0].Path)
	assert.Contains(t, errOut, "repo: 7 bytes")
}

func mustLocal(t *testing.T, dir string) objstore.Store {
	t.Helper()
	st, err := streamer.OpenTarget(context.Background(), dir, nil)
	require.NoError(t, err)
	return st
}
