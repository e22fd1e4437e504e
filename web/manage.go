package web

import (
	"net/http"
	"runtime"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

type usersData struct {
	Users []audit.Account
}

// local is the admin's audit.Local (the admin API's operations).
func (h *Handler) local(q *request) *audit.Local {
	return &audit.Local{DB: h.opts.DB, Meta: q.meta()}
}

// manageUsers lists the accounts.
func (h *Handler) manageUsers(w http.ResponseWriter, q *request) error {
	users, err := h.local(q).Users(q.Context())
	if err != nil {
		return err
	}
	return h.show(w, q, "users", "Users", "manage", usersData{Users: users})
}

// checkPassword refuses what the admin API refuses (400).
func checkPassword(pw string) error {
	if err := audit.CheckPassword(pw); err != nil {
		return httpError(http.StatusBadRequest, "%v", err)
	}
	return nil
}

// manageCreateUser adds an account.
func (h *Handler) manageCreateUser(w http.ResponseWriter, q *request) error {
	name, pw := q.FormValue("name"), q.FormValue("password")
	if err := checkPassword(pw); err != nil {
		return err
	}
	if err := h.local(q).AddUser(q.Context(), name, pw, q.FormValue("admin") != ""); err != nil {
		return err
	}
	return h.redirect(w, q, "/manage/users", "Added "+name+".")
}

// managePassword sets an account's password; its sessions end.
func (h *Handler) managePassword(w http.ResponseWriter, q *request) error {
	name, pw := q.FormValue("name"), q.FormValue("password")
	if err := checkPassword(pw); err != nil {
		return err
	}
	if err := h.local(q).SetPassword(q.Context(), name, pw); err != nil {
		return err
	}
	if name != q.s.user {
		h.sessions.dropUser(name)
	}
	return h.redirect(w, q, "/manage/users", "Changed the password of "+name+".")
}

// manageDisable disables or enables an account; a disabled one's sessions
// end. An admin cannot disable themselves.
func (h *Handler) manageDisable(w http.ResponseWriter, q *request) error {
	name := q.FormValue("name")
	disable := q.URL.Path == "/manage/users/disable"
	if disable && name == q.s.user {
		return httpError(http.StatusConflict, "you are signed in as %s: another admin must do that", name)
	}
	if err := h.local(q).SetDisabled(q.Context(), name, disable); err != nil {
		return err
	}
	msg := "Enabled " + name + "."
	if disable {
		h.sessions.dropUser(name)
		msg = "Disabled " + name + "."
	}
	return h.redirect(w, q, "/manage/users", msg)
}

// Runtime is what the status page shows of the server's parts outside
// the web app. The command fills it from the feed and the cluster, which
// the web app does not import.
type Runtime struct {
	// GRPCFeed is true when the gRPC change feed is served, and
	// FeedSubscribers its open Subscribe streams.
	GRPCFeed        bool
	FeedSubscribers int
	// NATS is true when changes are published to NATS, and NATSLag the
	// events appended that JetStream has not acknowledged yet.
	NATS    bool
	NATSLag uint64
	// Cluster is true on a node of a cluster, and LeaseHolder the node
	// that runs the publishers ("" when not known yet).
	Cluster     bool
	LeaseHolder string
}

type statusData struct {
	Version           string
	Started           time.Time
	Uptime            string
	Head              engine.Seq
	DiskBytes         int64
	Users, Sessions   int
	GoVersion, GoArch string
	// Backup is the last backup this server made since it started; nil:
	// none.
	Backup *engine.LastBackup
	Runtime
	// LogHead is the cluster log's head, Lag the events this node has
	// not applied yet and LogError why its last look at the log failed.
	LogHead  engine.Seq
	Lag      uint64
	LogError string
}

// manageStatus shows the server's status.
func (h *Handler) manageStatus(w http.ResponseWriter, q *request) error {
	st, err := h.opts.DB.Stats()
	if err != nil {
		return err
	}
	users, err := h.local(q).Users(q.Context())
	if err != nil {
		return err
	}
	d := statusData{Version: h.opts.Version, Started: h.opts.Started,
		Uptime: h.opts.Clock().Sub(h.opts.Started).Round(time.Second).String(), Head: st.Head,
		DiskBytes: int64(st.DiskBytes), Users: len(users), Sessions: h.sessions.count(),
		GoVersion: runtime.Version(), GoArch: runtime.GOOS + "/" + runtime.GOARCH,
		Backup: h.opts.DB.LastBackup(), LogHead: st.LogHead, LogError: st.LogError}
	if st.LogHead > st.Head {
		d.Lag = uint64(st.LogHead - st.Head)
	}
	if h.opts.Runtime != nil {
		d.Runtime = h.opts.Runtime()
	}
	return h.show(w, q, "status", "Server status", "manage", d)
}
