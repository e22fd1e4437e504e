package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/almanac/almanac/engine"
)

func init() {
	register(Command{
		Name:  "node",
		Usage: "join --checkpoint BACKUP [--data DIR]",
		Summary: "make a backup of a cluster node (almanac backup on a peer, copied here) the database of a new node of the same cluster; " +
			"`serve` with the cluster flags then applies the log's tail (a node on an empty --data replays the whole log instead)",
		Run: func(ctx context.Context, args []string) error { return runNode(ctx, args, os.Stdout, os.Getenv) },
	})
}

// runNode is `almanac node join`.
func runNode(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) > 0 && isHelpArg(args[0]) {
		args = []string{"join", "-h"}
	}
	if len(args) == 0 {
		return fmt.Errorf("%w: node join --checkpoint BACKUP [--data DIR]", errUsage)
	}
	if args[0] != "join" {
		return fmt.Errorf("%w: unknown subcommand %q (join)", errUsage, args[0])
	}
	fs := flag.NewFlagSet("node join", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", defaultDataDir, "data `directory` of the new node (its database will be DIR/db)")
	checkpoint := fs.String("checkpoint", "", "`directory` of a backup of a node of the cluster (almanac backup), on this machine and on DIR's filesystem; it is moved, not copied")
	fs.String(configFlag, "", "TOML `file` of the node, for its data setting")
	pos, err := parseInterspersed(fs, args[1:], getenv)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *checkpoint == "" {
		return fmt.Errorf("%w: node join --checkpoint BACKUP [--data DIR]", errUsage)
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("node join: %w", err)
	}
	info, err := engine.JoinReplica(ctx, *checkpoint, filepath.Join(*data, "db"), nil)
	switch {
	case errors.Is(err, engine.ErrExists):
		return fmt.Errorf("node join: %s already holds a database: a joining node starts from the backup alone (or, with an empty --data, from the log)", *data)
	case err != nil:
		return fmt.Errorf("node join: %w", err)
	}
	fmt.Fprintf(stdout, "the backup (store %s, head %d, taken %s) is now the database of %s\n", info.Store, info.Head, info.Time.Format("2006-01-02 15:04:05Z"), *data)
	fmt.Fprintf(stdout, "start the node with: almanac serve --data %s --node-name NAME --cluster-listen HOST:PORT --routes PEERS --cluster-secret-file FILE\n", *data)
	fmt.Fprintln(stdout, "it applies the events the cluster appended after the backup before it serves")
	return nil
}
