package datasets

import (
	"bytes"
	"fmt"

	"github.com/containerd/errdefs"
	"gopkg.in/yaml.v3"

	"github.com/enclave-dev/enclave/enclave/ingest"
)

// Sharing is the version's sharing class (issue 20 item 2, R-02): the
// mark its import wrote. A version without one (imported before sharing
// classes, and not reached by the migration that marks those) is taken
// restrictively, as conditional, never as unconditional.
func (v *Version) Sharing() string {
	if s := v.Marks[ingest.MarkSharing]; s != "" {
		return s
	}
	return string(ingest.SharingConditional)
}

// RequireSharing checks that an import spec (YAML) names its sharing class
// at the top level: `sharing: unconditional | conditional | none`. A spec
// that leaves it out is refused instead of being taken as unconditional,
// which is the most permissive class. The value itself is checked by the
// spec's parser. Errors are of class errdefs.ErrInvalidArgument and never
// quote the spec.
func RequireSharing(spec []byte) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(spec)).Decode(&doc); err != nil {
		return fmt.Errorf("spec must be a YAML mapping that names its sharing class: %w", errdefs.ErrInvalidArgument)
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m := doc.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "sharing" {
				if v := m.Content[i+1]; v.Kind != yaml.ScalarNode || v.Value == "" {
					return fmt.Errorf("spec field %q must be one of unconditional, conditional, none: %w", "sharing", errdefs.ErrInvalidArgument)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("spec must name its sharing class (sharing: unconditional | conditional | none; 000 art. 14): %w", errdefs.ErrInvalidArgument)
}
