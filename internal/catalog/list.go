package catalog

// ListEntry is one model in the GET /v2/models answer. Both services write
// it: inference for the versions it serves, the gateway for every version
// a key may use.
type ListEntry struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Versions    []ListVersion     `json:"versions"`
	Aliases     map[string]string `json:"aliases"`
	Default     bool              `json:"default,omitempty"`
}

// ListVersion describes one version of a ListEntry; Served says whether
// the answering side can serve it.
type ListVersion struct {
	Version   string             `json:"version"`
	Served    bool               `json:"served"`
	Algorithm string             `json:"algorithm,omitempty"`
	Format    string             `json:"format,omitempty"`
	Inputs    []Feature          `json:"inputs,omitempty"`
	Output    *Output            `json:"output,omitempty"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	Created   string             `json:"created,omitempty"`
}
