package dav

import (
	"encoding/xml"
	"sort"
	"strings"
)

// deadProps returns the dead properties of r: a collection's or an
// object's, nil for the other resources.
func deadProps(r *resource) map[string]string {
	switch r.kind {
	case resCollection:
		return r.coll.Props.Dead
	case resObject:
		return r.obj.Dead
	}
	return nil
}

// deadKey is the engine's key of a dead property: "{namespace}local".
func deadKey(n xml.Name) string { return "{" + n.Space + "}" + n.Local }

// parseDeadKey inverts deadKey.
func parseDeadKey(k string) xml.Name {
	if strings.HasPrefix(k, "{") {
		if i := strings.IndexByte(k, '}'); i > 0 {
			return xml.Name{Space: k[1:i], Local: k[i+1:]}
		}
	}
	return xml.Name{Local: k}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
