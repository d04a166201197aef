package streamer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Outcome is the result of one maintenance step.
type Outcome string

// Step outcomes. A step that was asked for and failed is always
// OutcomeFailed, never OutcomeSkipped.
const (
	// OutcomeOK: the step ran and succeeded.
	OutcomeOK Outcome = "ok"
	// OutcomeFailed: the step ran and failed (see the step's error).
	OutcomeFailed Outcome = "failed"
	// OutcomeSkipped: the step was not asked for.
	OutcomeSkipped Outcome = "skipped"
	// OutcomeNotRun: the step was asked for but could not start because
	// the repository could not be opened (that failure is reported by the
	// "open" step).
	OutcomeNotRun Outcome = "not-run"
	// OutcomeNotARepository: the directory matches the naming scheme but
	// holds no repository (a creation that crashed); nothing to maintain.
	OutcomeNotARepository Outcome = "not-a-repository"
)

// MaintainOptions select the maintenance steps.
type MaintainOptions struct {
	// ExpireOlderThan expires snapshots flushed before now minus this
	// (and is the garbage collection cutoff). Must be positive.
	ExpireOlderThan time.Duration
	// GC deletes the objects no ref reaches any more that were written
	// before the cutoff.
	GC bool
}

// StepReport is the outcome of one step on one repository.
type StepReport struct {
	Step    string  `json:"step"`
	Outcome Outcome `json:"outcome"`
	Error   string  `json:"error,omitempty"`
	// Details counts what the step did.
	Details map[string]any `json:"details,omitempty"`
}

// RepoMaintenance lists the steps run on one repository.
type RepoMaintenance struct {
	Repository string       `json:"repository"`
	Steps      []StepReport `json:"steps"`
}

// MaintainReport is the outcome of a maintenance run.
type MaintainReport struct {
	Cutoff       time.Time         `json:"cutoff"`
	Repositories []RepoMaintenance `json:"repositories"`
	// Failed is set when any step failed.
	Failed bool `json:"failed"`
}

// Maintain runs retention on every repository of the instrument and
// project: snapshot expiration, then (with GC) garbage collection, each
// with the cutoff now - ExpireOlderThan. Every step's real outcome is
// reported; a failing step does not stop the others (garbage collection
// after a failed expiration only deletes what is unreachable anyway). The
// error is non-nil only when maintenance could not start (bad options,
// discovery failing, no access).
func (s *Streamer) Maintain(ctx context.Context, opts MaintainOptions) (*MaintainReport, error) {
	if opts.ExpireOlderThan <= 0 {
		return nil, fmt.Errorf("maintain: the expiration age must be positive, not %s", opts.ExpireOlderThan)
	}
	cutoff := s.clock.Now().Add(-opts.ExpireOlderThan).UTC()
	refs, err := Discover(ctx, s.root, s.src.Instrument(), s.src.Project())
	if err != nil {
		return nil, err
	}
	rep := &MaintainReport{Cutoff: cutoff, Repositories: []RepoMaintenance{}}
	for _, ref := range refs {
		rm := RepoMaintenance{Repository: ref.Name}
		repo, _, err := s.openRepo(ctx, ref)
		switch {
		case isMissingRepo(err):
			rm.Steps = append(rm.Steps, StepReport{Step: "open", Outcome: OutcomeNotARepository})
			rep.Repositories = append(rep.Repositories, rm)
			continue
		case err != nil:
			if IsNoAccess(err) {
				return nil, err
			}
			rep.Failed = true
			rm.Steps = append(rm.Steps,
				StepReport{Step: "open", Outcome: OutcomeFailed, Error: err.Error()},
				StepReport{Step: "expire", Outcome: OutcomeNotRun},
				StepReport{Step: "gc", Outcome: notRunOrSkipped(opts.GC)})
			rep.Repositories = append(rep.Repositories, rm)
			continue
		}
		rm.Steps = append(rm.Steps, StepReport{Step: "open", Outcome: OutcomeOK, Details: map[string]any{"spec_version": repo.SpecVersion()}})

		step := StepReport{Step: "expire"}
		res, err := repo.ExpireSnapshots(ctx, cutoff, false, false)
		if err != nil {
			step.Outcome, step.Error = OutcomeFailed, classify(err).Error()
			rep.Failed = true
		} else {
			step.Outcome = OutcomeOK
			step.Details = map[string]any{
				"released_snapshots": len(res.ReleasedSnapshots),
				"edited_snapshots":   len(res.EditedSnapshots),
			}
		}
		rm.Steps = append(rm.Steps, step)

		step = StepReport{Step: "gc", Outcome: OutcomeSkipped}
		if opts.GC {
			sum, err := repo.GarbageCollect(ctx, cutoff, false)
			if err != nil {
				step.Outcome, step.Error = OutcomeFailed, classify(err).Error()
				rep.Failed = true
			} else {
				step.Outcome = OutcomeOK
				step.Details = map[string]any{
					"snapshots_deleted":        sum.SnapshotsDeleted,
					"manifests_deleted":        sum.ManifestsDeleted,
					"chunks_deleted":           sum.ChunksDeleted,
					"transaction_logs_deleted": sum.TransactionLogsDeleted,
					"bytes_deleted":            sum.BytesDeleted,
				}
			}
		}
		rm.Steps = append(rm.Steps, step)
		rep.Repositories = append(rep.Repositories, rm)
		if errors.Is(ctx.Err(), context.Canceled) {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

func notRunOrSkipped(asked bool) Outcome {
	if asked {
		return OutcomeNotRun
	}
	return OutcomeSkipped
}
