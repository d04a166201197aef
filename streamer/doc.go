// Package streamer is the production streamer: it appends timestamped
// instrument data, every 15 minutes from cron, to Icechunk repositories
// (written with formatv2) on Azure Blob Storage or a local directory.
//
// # Target and repositories
//
// The target root comes from ICESTREAM_TARGET (OpenTarget): a local path
// (default ./data), file:///abs/path, or az://<container>/<prefix>. Each
// repository is a directory of the target,
//
//	<instrument>/<project>/inst-<instrument>-prj-<project>-<YYYY-MM-DDtHH-mm-SSz>l1b/
//
// whose time (UTC, whole seconds) is where its data starts. Discover lists
// them (names that do not match are ignored); the latest one holding a
// streamer commit is the one a run continues.
//
// # Windows
//
// A run covers (last committed time, until]: the last committed time is
// the end of the newest window committed on main, read from that commit's
// metadata (no scan of the data); a since-hint replaces it only when it is
// later; without either, a first run starts streaming_minutes before until.
// The range is cut into windows of at most max_window, and cut again at
// settings changes of the source and at the end of the repository's span
// (days_per_file days after the time in its name). Each window is one
// commit on main, whose metadata records the window bounds, the last
// timestamps and row counts, the settings fingerprint and the layout (see
// the Meta... constants). A sample is never written twice and none is
// skipped, also across crashes: nothing of a window is visible until its
// commit moves main, and the next run starts where main's last window ends.
//
// A window goes to the current repository when its settings fingerprint and
// layout (the set of arrays) match and it starts within the repository's
// span; otherwise a new repository starts at the window (spec version
// spec_version, default 2) and its first commit is tagged
// settings-<fingerprint>-start. A crash between that commit and the tag is
// repaired by the next run. Existing repositories keep their spec: a spec-1
// repository is appended to with spec-1 objects.
//
// # Data layout
//
// Every array sits at the root of the repository's Zarr hierarchy: the
// retro table (retro, retro_latitude, retro_longitude, retro_altitude,
// written once), the timestamp coordinate (int64 microseconds since the
// epoch) and the per-timestamp variables, then (data: all) the
// high_res_timestamp coordinate with the wind variables and the waveforms
// on (timestamp, sample). They are written in that order. Time dimensions
// are chunked chunk_timestamps rows per chunk; a window grows the arrays'
// shapes and rewrites the partial last chunk. The root group carries the
// source's attributes and the time coverage.
//
// # Failures
//
// Transient storage errors are retried with exponential backoff a bounded
// number of times (retry in the configuration; the Sleeper is injectable);
// ambiguous conditional writes are resolved by reading the object back.
// Authorization failures (Azure 401/403, permission errors) wrap
// ErrNoAccess and are never confused with a missing repository, which is
// created. After every commit the runtime invariants of package
// streamer/invariants are checked on the committed snapshot.
//
// # One given repository
//
// RunRepo appends windows, committed exactly as Run commits them, to one
// existing repository of either spec that other writers may share (at
// other paths), without discovery, naming or creation; CheckAgainstSource
// reads a repository version through any library's Zarr key reader and
// checks that it holds exactly the source's data of a range.
//
// # Maintenance
//
// Maintain expires snapshots older than a cutoff and garbage-collects, per
// repository, reporting each step's real outcome.
package streamer
