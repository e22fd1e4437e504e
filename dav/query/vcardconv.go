package query

import (
	"strings"
)

// convertCard converts a vCard between versions 3.0 (RFC 2426) and 4.0
// (RFC 6350) line by line, keeping every value it does not have to change
// as written (go-vcard's encoder corrupts commas and escaped semicolons).
func convertCard(n *Node, to string) *Node {
	out := &Node{Name: n.Name, Children: n.Children}
	var conv func(*Line, *Node) []*Line
	if to == "4.0" {
		conv = lineTo4
	} else {
		conv = lineTo3
	}
	for _, l := range n.Props {
		out.Props = append(out.Props, conv(l, n)...)
	}
	if to == "4.0" {
		attachLabels(n, out)
	}
	for _, l := range out.Props {
		l.Raw = formatLine(l)
	}
	return out
}

// copyLine returns a copy of l whose params can be edited.
func copyLine(l *Line) *Line {
	c := *l
	c.Params = make([]Param, len(l.Params))
	for i, p := range l.Params {
		c.Params[i] = Param{Name: p.Name, Values: append([]string(nil), p.Values...)}
	}
	return &c
}

// takeParam removes parameter name from l and returns its values.
func takeParam(l *Line, name string) []string {
	var vals []string
	kept := l.Params[:0]
	for _, p := range l.Params {
		if p.Name == name {
			vals = append(vals, p.Values...)
			continue
		}
		kept = append(kept, p)
	}
	l.Params = kept
	return vals
}

// mediaTypes maps vCard 3.0 TYPE values of inline binaries to media
// types and back.
var mediaTypes = map[string]string{
	"JPEG": "image/jpeg", "JPG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
	"BMP": "image/bmp", "TIFF": "image/tiff", "WAV": "audio/wav", "MP3": "audio/mpeg",
	"OGG": "audio/ogg", "PGP": "application/pgp-keys", "X509": "application/pkix-cert",
}

func isBinaryProp(name string) bool {
	return name == "PHOTO" || name == "LOGO" || name == "SOUND" || name == "KEY"
}

// lineTo4 converts one vCard 3.0 line (RFC 6350 Appendix A).
func lineTo4(l *Line, _ *Node) []*Line {
	switch l.Name {
	case "VERSION":
		return []*Line{{Name: "VERSION", Value: "4.0"}}
	case "LABEL", "NAME", "PROFILE", "MAILER", "CLASS", "AGENT", "SORT-STRING":
		return nil // removed in 4.0; LABEL moves onto ADR (attachLabels)
	}
	c := copyLine(l)
	takeParam(c, "CHARSET")
	var types []string
	pref := false
	for _, t := range takeParam(c, "TYPE") {
		for _, v := range strings.Split(t, ",") {
			if strings.EqualFold(v, "pref") {
				pref = true
			} else if v != "" {
				types = append(types, v)
			}
		}
	}
	if isBinaryProp(c.Name) {
		enc := takeParam(c, "ENCODING")
		takeParam(c, "VALUE")
		if len(enc) > 0 && strings.EqualFold(enc[0], "b") {
			mt := "application/octet-stream"
			if len(types) > 0 {
				if m, ok := mediaTypes[strings.ToUpper(types[0])]; ok {
					mt = m
				} else if strings.Contains(types[0], "/") {
					mt = strings.ToLower(types[0])
				}
				types = types[1:]
			}
			c.Value = "data:" + mt + ";base64," + c.Value
		} else if len(types) > 0 && mediaTypes[strings.ToUpper(types[0])] != "" {
			c.Params = append(c.Params, Param{Name: "MEDIATYPE", Values: []string{mediaTypes[strings.ToUpper(types[0])]}})
			types = types[1:]
		}
	}
	if c.Name == "GEO" {
		if lat, lon, ok := strings.Cut(c.Value, ";"); ok {
			c.Value = "geo:" + lat + "," + lon
		}
	}
	if len(types) > 0 {
		c.Params = append(c.Params, Param{Name: "TYPE", Values: types})
	}
	if pref {
		c.Params = append(c.Params, Param{Name: "PREF", Values: []string{"1"}})
	}
	return []*Line{c}
}

// attachLabels turns 3.0 LABEL properties into the LABEL parameter of
// the ADR with the same group, else with the same TYPE, else the first.
func attachLabels(src, out *Node) {
	for _, l := range src.Props {
		if l.Name != "LABEL" {
			continue
		}
		target := (*Line)(nil)
		for _, a := range out.Props {
			if a.Name != "ADR" {
				continue
			}
			if target == nil || l.Group != "" && a.Group == l.Group ||
				l.Group == "" && sameTypes(lineParamValues(a, "TYPE"), lineParamValues(l, "TYPE")) {
				target = a
			}
		}
		if target == nil {
			continue
		}
		// Param values are held decoded; formatLine encodes them (RFC 6868).
		target.Params = append(target.Params, Param{Name: "LABEL", Values: []string{unescapeText(l.Value)}})
	}
}

func sameTypes(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	for _, x := range b {
		if !strings.EqualFold(x, "pref") && !containsFold(a, x) {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// v4Only names 4.0 properties that 3.0 lacks, kept as extensions.
var v4Only = map[string]string{
	"KIND": "X-ADDRESSBOOKSERVER-KIND", "MEMBER": "X-ADDRESSBOOKSERVER-MEMBER",
	"GENDER": "X-GENDER", "ANNIVERSARY": "X-ANNIVERSARY", "LANG": "X-LANG",
}

// lineTo3 converts one vCard 4.0 line back to 3.0.
func lineTo3(l *Line, _ *Node) []*Line {
	switch l.Name {
	case "VERSION":
		return []*Line{{Name: "VERSION", Value: "3.0"}}
	case "CLIENTPIDMAP", "XML":
		return nil
	}
	c := copyLine(l)
	if x, ok := v4Only[c.Name]; ok {
		c.Name = x
	}
	takeParam(c, "PID")
	types := takeParam(c, "TYPE")
	var out []*Line
	if pref := takeParam(c, "PREF"); len(pref) > 0 {
		types = append(types, "pref")
	}
	takeParam(c, "MEDIATYPE") // 3.0 has no media type for URIs
	switch {
	case isBinaryProp(c.Name) && strings.HasPrefix(c.Value, "data:"):
		meta, data, _ := strings.Cut(strings.TrimPrefix(c.Value, "data:"), ",")
		mt, _, _ := strings.Cut(meta, ";")
		c.Value = data
		c.Params = append(c.Params, Param{Name: "ENCODING", Values: []string{"b"}})
		for k, v := range mediaTypes {
			if v == mt && k != "JPG" {
				types = append([]string{k}, types...)
				break
			}
		}
	case isBinaryProp(c.Name):
		takeParam(c, "VALUE")
		c.Params = append(c.Params, Param{Name: "VALUE", Values: []string{"uri"}})
	case c.Name == "GEO" && strings.HasPrefix(c.Value, "geo:"):
		lat, lon, _ := strings.Cut(strings.TrimPrefix(c.Value, "geo:"), ",")
		c.Value = lat + ";" + lon
	case c.Name == "TEL" && strings.HasPrefix(c.Value, "tel:"):
		takeParam(c, "VALUE")
		c.Value = strings.TrimPrefix(c.Value, "tel:")
	}
	if len(types) > 0 {
		c.Params = append(c.Params, Param{Name: "TYPE", Values: types})
	}
	out = append(out, c)
	if c.Name == "ADR" {
		if labels := takeParam(c, "LABEL"); len(labels) > 0 {
			lab := &Line{Group: c.Group, Name: "LABEL", Value: escapeText(labels[0])}
			if len(types) > 0 {
				lab.Params = []Param{{Name: "TYPE", Values: types}}
			}
			out = append(out, lab)
		}
	}
	return out
}

// escapeText applies RFC 6350 §3.4 TEXT escaping.
func escapeText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\n", `\n`).Replace(s)
}
