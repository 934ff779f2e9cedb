package bulk

import (
	"context"
	"errors"
	"testing"

	"github.com/kubectl-waypoint/kubectl-waypoint/internal/fanout"
	"github.com/kubectl-waypoint/kubectl-waypoint/pkg/kube"
)

// TestStopIsFanouts: bulk's stop and interrupt are those of
// internal/fanout, so a stop through bulk.WithStop also stops pkg/kube's
// reads, and their ErrInterrupted is the report's.
func TestStopIsFanouts(t *testing.T) {
	stop := make(chan struct{})
	ctx := WithStop(context.Background(), stop)
	if Stopped(ctx) || fanout.Stopped(ctx) {
		t.Fatal("stopped before the stop")
	}
	close(stop)
	if !Stopped(ctx) || !fanout.Stopped(ctx) || Stopped(context.Background()) {
		t.Error("Stopped is wrong")
	}
	if n := ForEach(ctx, 3, 1, func(context.Context, int) { t.Error("called after the stop") }, nil); n != 0 {
		t.Errorf("started %d after the stop", n)
	}
	wctx, cancel := UntilStopped(ctx)
	defer cancel()
	<-wctx.Done()
	if !errors.Is(ErrInterrupted, fanout.ErrInterrupted) {
		t.Error("bulk.ErrInterrupted is not fanout's")
	}
}

func TestNewReport(t *testing.T) {
	r := NewReport([]Record{
		{Ref: kube.Ref{Kind: "Gateway", Namespace: "b", Name: "w"}, Action: Created},
		{Ref: kube.Ref{Kind: "Gateway", Namespace: "a", Name: "w"}, Action: Failed, Error: "boom"},
		{Ref: kube.Ref{Kind: "Namespace", Name: "a"}, Action: Enrolled},
	})
	if r.Records[0].Namespace != "a" || r.Records[2].Kind != "Namespace" {
		t.Errorf("not sorted: %+v", r.Records)
	}
	if r.Summary.Total != 3 || r.Summary.Failed != 1 || r.Summary.Counts[Created] != 1 {
		t.Errorf("summary %+v", r.Summary)
	}
}

func TestReportLine(t *testing.T) {
	r := NewReport([]Record{
		{Ref: kube.Ref{Kind: "Gateway", Namespace: "a", Name: "w"}, Action: Created},
		{Ref: kube.Ref{Kind: "Gateway", Namespace: "b", Name: "w"}, Action: Unchanged},
		{Ref: kube.Ref{Kind: "ServiceEntry", Namespace: "a", Name: "se"}, Action: Failed, Error: "boom"},
		{Ref: kube.Ref{Kind: "Namespace", Name: "a"}, Action: Enrolled},
	})
	want := "2 gateways: 1 created, 1 unchanged; 1 namespace: 1 enrolled; 1 serviceentry: 1 failed; 1 failed"
	if got := r.Line(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := NewReport(nil).Line(); got != "0 failed" {
		t.Errorf("empty report: %q", got)
	}
}

func TestReportOutcome(t *testing.T) {
	r := NewReport([]Record{{Ref: kube.Ref{Kind: "Gateway", Name: "a"}, Action: Created}, {Ref: kube.Ref{Kind: "Gateway", Name: "b"}, Action: NotStarted}})
	if r.Outcome() != ErrInterrupted || !r.Summary.Interrupted {
		t.Errorf("outcome %v", r.Outcome())
	}
	if got := r.Line(); got != "2 gateways: 1 created, 1 not started; 0 failed; interrupted: 1 not started; run the command again to finish" {
		t.Errorf("line %q", got)
	}
	r = NewReport([]Record{{Ref: kube.Ref{Kind: "Service", Name: "a"}, Action: Failed}})
	var fe *FailedError
	if !errors.As(r.Outcome(), &fe) || fe.Failed != 1 {
		t.Errorf("outcome %v", r.Outcome())
	}
	if NewReport(nil).Outcome() != nil || NewReport(nil).Records == nil {
		t.Error("an empty report is a success with [] records")
	}
}
