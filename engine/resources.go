package engine

import (
	"fmt"

	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// Rooms and resources (RFC 6638 §2.4.2 calendar-user-type ROOM and
// RESOURCE) are accounts whose User.Resource is set: principals with a
// home, a calendar, an inbox and email addresses like a person's, that
// never sign in. The server answers their invitations by AutoSchedule;
// their managers are a group of write delegates (SetProxy).

// ResourceType is the calendar-user-type of a resource.
type ResourceType string

// The resource types.
const (
	ResourceRoom  ResourceType = "ROOM"
	ResourceThing ResourceType = "RESOURCE"
)

// AutoSchedule is how the server answers an invitation to a resource.
type AutoSchedule string

// The policies.
const (
	// AutoAccept accepts every invitation.
	AutoAccept AutoSchedule = "accept"
	// AutoAcceptIfFree accepts an invitation when the resource is free
	// at each of its instances, and declines it otherwise.
	AutoAcceptIfFree AutoSchedule = "accept-if-free"
	// AutoManual leaves invitations NEEDS-ACTION in the inbox for the
	// managers to answer.
	AutoManual AutoSchedule = "manual"
)

// Resource is what makes a User a room or a resource.
type Resource struct {
	Type         ResourceType
	AutoSchedule AutoSchedule
	// Managers is the group of the resource's write delegates ("" for
	// none); the delegation itself is a Proxy.
	Managers string
	// DisplayName is a human-readable name, "" for the account name.
	DisplayName string
}

// maxResourceDisplayName bounds Resource.DisplayName.
const maxResourceDisplayName = 200

// checkResource validates the resource part of u and that u cannot sign
// in (ErrInvalidName otherwise).
func checkResource(u *eventv1.User) error {
	r := u.Resource
	if r == nil {
		return nil
	}
	switch {
	case r.Type != eventv1.ResourceType_RESOURCE_TYPE_ROOM && r.Type != eventv1.ResourceType_RESOURCE_TYPE_RESOURCE:
		return fmt.Errorf("%w: resource %q has no type (room or resource)", ErrInvalidName, u.Name)
	case r.AutoSchedule == eventv1.AutoSchedule_AUTO_SCHEDULE_UNSPECIFIED || r.AutoSchedule > eventv1.AutoSchedule_AUTO_SCHEDULE_MANUAL:
		return fmt.Errorf("%w: resource %q has no scheduling policy", ErrInvalidName, u.Name)
	case r.Managers != "" && !validName(r.Managers):
		return fmt.Errorf("%w: managers %q", ErrInvalidName, r.Managers)
	case len(r.DisplayName) > maxResourceDisplayName:
		return fmt.Errorf("%w: display name of %d bytes, at most %d", ErrInvalidName, len(r.DisplayName), maxResourceDisplayName)
	case u.PasswordHash != "" || !u.Disabled || len(u.Tokens) > 0 || u.Role != RoleUser:
		return fmt.Errorf("%w: %q is a resource: it cannot sign in (no password, token, admin role or enabling)", ErrInvalidName, u.Name)
	}
	return nil
}

var resourceTypes = map[ResourceType]eventv1.ResourceType{
	ResourceRoom: eventv1.ResourceType_RESOURCE_TYPE_ROOM, ResourceThing: eventv1.ResourceType_RESOURCE_TYPE_RESOURCE,
}

var autoSchedules = map[AutoSchedule]eventv1.AutoSchedule{
	AutoAccept: eventv1.AutoSchedule_AUTO_SCHEDULE_ACCEPT, AutoAcceptIfFree: eventv1.AutoSchedule_AUTO_SCHEDULE_ACCEPT_IF_FREE,
	AutoManual: eventv1.AutoSchedule_AUTO_SCHEDULE_MANUAL,
}

func resourceToProto(r *Resource) *eventv1.Resource {
	if r == nil {
		return nil
	}
	return &eventv1.Resource{Type: resourceTypes[r.Type], AutoSchedule: autoSchedules[r.AutoSchedule],
		Managers: r.Managers, DisplayName: r.DisplayName}
}

func resourceFromProto(p *eventv1.Resource) *Resource {
	if p == nil {
		return nil
	}
	r := &Resource{Managers: p.Managers, DisplayName: p.DisplayName}
	for k, v := range resourceTypes {
		if v == p.Type {
			r.Type = k
		}
	}
	for k, v := range autoSchedules {
		if v == p.AutoSchedule {
			r.AutoSchedule = k
		}
	}
	return r
}
