package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/bench"
)

// ints parses a comma-separated list of sizes such as "1000,10000".
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(strings.ReplaceAll(f, "k", "000"), "_", ""))
		if err != nil {
			return nil, fmt.Errorf("bad number %q: %w", f, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// planFlags binds the flags of one Plan under prefix (e.g. "peer-").
type planFlags struct {
	putN                      *int
	putC, sizes, syncOnly     *string
	putBudget, readBudget, mt *time.Duration
	mixedC, rounds            *int
}

func bindPlan(fs *flag.FlagSet, prefix string, def bench.Plan) planFlags {
	join := func(v []int) string {
		s := make([]string, len(v))
		for i, n := range v {
			s[i] = strconv.Itoa(n)
		}
		return strings.Join(s, ",")
	}
	return planFlags{
		putN:       fs.Int(prefix+"put-n", def.PutN, "objects per put and vcard-put run"),
		putC:       fs.String(prefix+"put-c", join(def.PutC), "client counts for put runs"),
		putBudget:  fs.Duration(prefix+"put-budget", def.PutBudget, "time budget per put run"),
		sizes:      fs.String(prefix+"sizes", join(def.Sizes), "dataset sizes for propfind, query, multiget, sync, mixed"),
		syncOnly:   fs.String(prefix+"sync-only", join(def.SyncOnly), "extra dataset sizes for sync and RSS only"),
		readBudget: fs.Duration(prefix+"read-budget", def.ReadBudget, "time budget per read scenario"),
		mixedC:     fs.Int(prefix+"mixed-c", def.MixedC, "devices in the mixed scenario"),
		mt:         fs.Duration(prefix+"mixed-time", def.MixedTime, "duration of the mixed scenario"),
		rounds:     fs.Int(prefix+"rounds", def.Rounds, "repetitions of each read"),
	}
}

func (p planFlags) plan() (bench.Plan, error) {
	putC, err := ints(*p.putC)
	if err != nil {
		return bench.Plan{}, err
	}
	sizes, err := ints(*p.sizes)
	if err != nil {
		return bench.Plan{}, err
	}
	syncOnly, err := ints(*p.syncOnly)
	if err != nil {
		return bench.Plan{}, err
	}
	return bench.Plan{
		PutN: *p.putN, PutC: putC, PutBudget: *p.putBudget, Sizes: sizes, SyncOnly: syncOnly,
		ReadBudget: *p.readBudget, MixedC: *p.mixedC, MixedTime: *p.mt, Rounds: *p.rounds,
	}, nil
}
