package engine

import (
	"strings"
	"unicode/utf8"
)

// parentPath returns the path of the collection that contains the
// collection at path: "/a/b/" -> "/a/".
func parentPath(path string) string {
	p := strings.TrimSuffix(path, "/")
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "/"
	}
	return p[:i+1]
}

// baseName returns the last segment of a collection path: "/a/b/" -> "b".
func baseName(path string) string {
	p := strings.TrimSuffix(path, "/")
	return p[strings.LastIndexByte(p, '/')+1:]
}

// validName reports whether name may name an object or a path segment.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") && utf8.ValidString(name)
}

// validCollectionPath reports whether path is absolute, ends with "/" and
// has only valid segments.
func validCollectionPath(path string) bool {
	if len(path) < 2 || path[0] != '/' || path[len(path)-1] != '/' {
		return false
	}
	for _, seg := range strings.Split(path[1:len(path)-1], "/") {
		if !validName(seg) {
			return false
		}
	}
	return true
}
