package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/otel2chrome/otel2chrome/converter"
)

// input is one source of trace data for the converter.
type input struct {
	name string                        // shown in errors and progress
	open func() (io.ReadCloser, error) // opened once, when converted
}

// convertFlags are the flags every converting command shares: output file,
// filters and time base.
type convertFlags struct {
	output string
	// filled by the converting commands
}

func (f *convertFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to `FILE` (.gz compresses); default stdout")
}

// run converts inputs into one timeline and writes it as the flags say.
func (f *convertFlags) run(cmd *cobra.Command, inputs []input, extra ...converter.Option) error {
	return errors.New("not implemented")
}

func newRootCmd() *cobra.Command {
	var flags convertFlags
	cmd := &cobra.Command{
		Use:           "otel2chrome [flags] [FILE|-]...",
		Short:         "Convert OpenTelemetry traces to Chrome Trace Event files",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	flags.register(cmd)
	cmd.AddCommand(newFetchCmd(), newViewCmd())
	return cmd
}
