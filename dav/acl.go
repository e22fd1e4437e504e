package dav

import (
	"fmt"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
)

// acl answers the ACL method (RFC 3744 §8.1). Almanac's ACLs are derived
// from the log's grants, which the sharing protocols change (POST
// share-resource, CS:share, `almanac share grant`); the ACL method changes
// nothing. The owner of the resource gets 403 with DAV:no-ace-conflict,
// RFC 3744 §8.1.1's catch-all for an implementation-specific restriction
// (DAV:acl-restrictions says grant-only and no-invert besides); anyone
// else gets DAV:need-privileges for DAV:write-acl, and a resource the user
// cannot see answers 404 as for every method.
func (h *Handler) acl(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.readXMLBody(w, r); err != nil {
		return err
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	res, err := h.lookup(v, state(r))
	if err != nil {
		return err
	}
	if res.acc < accessOwner {
		return errNeedPrivileges(res.path, privWriteACL)
	}
	return precondition(http.StatusForbidden, davxml.D("no-ace-conflict"),
		"the ACL method changes nothing here: share a collection with POST share-resource, CS:share or `almanac share grant`")
}
