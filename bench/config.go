package bench

import "time"

// Config tunes one scenario run. The zero value of each field means its
// default, applied by EnsureDefaults.
type Config struct {
	N int // collection size or objects to write; default 1000
	C int // concurrent clients; default 1
	// Budget stops a scenario that would run longer (the result is then
	// marked Partial); default 2 minutes. Peers get small budgets.
	Budget time.Duration
	// Rounds repeats a read so its median means something; default 3.
	Rounds int
	// Batch is the multiget batch size; default 100.
	Batch int
	// Changes is how many objects change between syncs; default 10.
	Changes int
	// Duration is how long the mixed scenario runs; default 20 seconds.
	Duration time.Duration
	// Offset numbers written objects from Offset so repeated put runs into
	// one collection never collide on names or UIDs; default 0.
	Offset int
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.N <= 0 {
		c.N = 1000
	}
	if c.C <= 0 {
		c.C = 1
	}
	if c.Budget <= 0 {
		c.Budget = 2 * time.Minute
	}
	if c.Rounds <= 0 {
		c.Rounds = 3
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Changes <= 0 {
		c.Changes = 10
	}
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
}
