package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// scriptedFeed is a change feed whose every Subscribe answers the next of
// its scripts: the changes to send, then the error that ends the stream.
// It records each request's FromSeq.
type scriptedFeed struct {
	feedv1.ChangeFeedServiceClient
	scripts []feedScript
	froms   []uint64
}

type feedScript struct {
	seqs []uint64
	end  error
}

func (f *scriptedFeed) Subscribe(_ context.Context, req *feedv1.SubscribeRequest, _ ...grpc.CallOption) (grpc.ServerStreamingClient[feedv1.SubscribeResponse], error) {
	f.froms = append(f.froms, req.FromSeq)
	s := f.scripts[0]
	f.scripts = f.scripts[1:]
	return &scriptedStream{script: s}, nil
}

type scriptedStream struct {
	grpc.ClientStream
	script feedScript
}

func (s *scriptedStream) Recv() (*feedv1.SubscribeResponse, error) {
	if len(s.script.seqs) == 0 {
		return nil, s.script.end
	}
	seq := s.script.seqs[0]
	s.script.seqs = s.script.seqs[1:]
	return &feedv1.SubscribeResponse{Changes: []*feedv1.Change{{Seq: seq, Op: feedv1.Op_OP_OBJECT_PUT,
		Time: timestamppb.Now(), Actor: "bob", Collection: "/dav/home/bob/calendar/", Object: "x.ics"}}}, nil
}

// TestTailResumes: `almanac tail` resumes after a cut-off (ResourceExhausted,
// a slow reader) and a lost connection (Unavailable) from the seq after
// the last one it printed, prints every change once, and stops with the
// error of any other failure. It takes ~3 s: tail waits a second before
// each resume.
func TestTailResumes(t *testing.T) {
	feed := &scriptedFeed{scripts: []feedScript{
		{[]uint64{5, 6}, status.Error(codes.ResourceExhausted, "subscriber too slow")},
		{[]uint64{7}, status.Error(codes.Unavailable, "connection lost")},
		{nil, status.Error(codes.Unavailable, "still down")},
		{[]uint64{8, 9}, status.Error(codes.PermissionDenied, "token revoked")},
	}}
	var out strings.Builder
	err := tailStream(context.Background(), feed, &feedv1.SubscribeRequest{FromSeq: 5}, &out, true)
	if status.Code(errors.Unwrap(err)) != codes.PermissionDenied {
		t.Errorf("tail ended with %v, want the PermissionDenied that no resume cures", err)
	}
	if got, want := feed.froms, []uint64{5, 7, 8, 8}; !slices.Equal(got, want) {
		t.Errorf("subscribed from %v, want %v", got, want)
	}
	var seqs []string
	for line := range strings.Lines(out.String()) {
		seq, _, _ := strings.Cut(strings.TrimPrefix(line, `{"seq":`), ",")
		seqs = append(seqs, seq)
	}
	if got := strings.Join(seqs, " "); got != "5 6 7 8 9" {
		t.Errorf("printed seqs %q, want each of 5..9 once:\n%s", got, out.String())
	}
}
