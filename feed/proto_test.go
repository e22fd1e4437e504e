package feed

import "google.golang.org/protobuf/testing/protocmp"

// cmpProto makes cmp compare protobuf messages by content.
var cmpProto = protocmp.Transform()
