package feed

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// cmpProto makes cmp compare protobuf messages by content.
var cmpProto = protocmp.Transform()

func protoUnmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }
