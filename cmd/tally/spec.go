package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/specs"
)

func newSpecCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "Validate and explain a metric registry",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate REGISTRY.yaml",
		Short: "Check a registry; every problem is reported with file, line and field",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := specs.Load(args[0])
			if err != nil {
				return err
			}
			for _, a := range reg.Aggregations {
				fmt.Fprintf(cmd.OutOrStdout(), "ok  %-32s version %s\n", a.Name, a.Version)
			}
			return nil
		},
	})
	var asJSON bool
	explain := &cobra.Command{
		Use:   "explain REGISTRY.yaml",
		Short: "Show what each aggregation reads and emits",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := specs.Load(args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(specs.Explain(reg))
			}
			for _, e := range specs.Explain(reg) {
				fmt.Fprintf(out, "%s (version %s)\n", e.Name, e.Version)
				fmt.Fprintf(out, "  reads    metrics %s of kind %s\n", strings.Join(e.Metrics, ", "), e.Kind)
				fmt.Fprintf(out, "  columns  %s\n", strings.Join(e.Columns, ", "))
				if e.Filters != "" {
					fmt.Fprintf(out, "  where    %s\n", e.Filters)
				}
				fmt.Fprintf(out, "  groups   %s per %s window (drops %s)\n", strings.Join(e.GroupBy, ", "), e.Window, orNone(e.Dropped))
				fmt.Fprintf(out, "  emits    %s\n", strings.Join(e.OutputColumns, ", "))
				for _, o := range e.Outputs {
					fmt.Fprintf(out, "  output   %s\n", o)
				}
			}
			return nil
		},
	}
	explain.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of text")
	cmd.AddCommand(explain)
	return cmd
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
