package cli

import (
	"fmt"
	"sync"
	"text/template"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// everydayGlobals are the global flags every command's help shows; the rest
// (credentials, TLS, impersonation, client rates, several clusters) are
// listed by the options command, as kubectl lists its own.
var everydayGlobals = []string{"namespace", "context", "kubeconfig"}

// usageTemplate is the help of every command: its own flags, then the
// everyday global flags, then where to find the others.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Available Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{with ownFlagUsages .}}

Flags:
{{. | trimTrailingWhitespaces}}{{end}}{{with everydayFlagUsages .}}

Global Flags:
{{. | trimTrailingWhitespaces}}{{end}}

Use "{{rootName .}} options" for the other global flags (credentials, TLS, impersonation, request rates, several clusters).{{if .HasAvailableSubCommands}}
Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

var addTemplateFuncs sync.Once

// setUsage gives root and every command under it usageTemplate.
func setUsage(root *cobra.Command) {
	addTemplateFuncs.Do(func() {
		cobra.AddTemplateFuncs(template.FuncMap{
			"ownFlagUsages":      ownFlagUsages,
			"everydayFlagUsages": everydayFlagUsages,
			"rootName":           func(c *cobra.Command) string { return c.Root().DisplayName() },
		})
	})
	root.SetUsageTemplate(usageTemplate)
}

// globalFlags are the flags of the root, which every command inherits.
func globalFlags(c *cobra.Command) *pflag.FlagSet { return c.Root().PersistentFlags() }

// ownFlagUsages are the flags of c that are not global.
func ownFlagUsages(c *cobra.Command) string {
	own := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	globals := globalFlags(c)
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if globals.Lookup(f.Name) == nil && !f.Hidden {
			own.AddFlag(f)
		}
	})
	return own.FlagUsages()
}

// everydayFlagUsages are the global flags of everydayGlobals.
func everydayFlagUsages(c *cobra.Command) string {
	fs := pflag.NewFlagSet("global", pflag.ContinueOnError)
	for _, name := range everydayGlobals {
		if f := globalFlags(c).Lookup(name); f != nil {
			fs.AddFlag(f)
		}
	}
	return fs.FlagUsages()
}

func newOptionsCommand(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "options",
		Short: "Print the global flags, which every command takes",
		Long: `Print every global flag: the namespace, the kubeconfig and its context, the
credentials, TLS and impersonation flags kubectl takes, the client's request
rates, and the flags that work on several clusters at once. Each command's
--help shows only the first three.`,
		Example: examples(f.Name, `
# Show the global flags
kubectl-waypoint options`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(f.IO.Out, "Global flags, which every command takes:")
			fmt.Fprint(f.IO.Out, globalFlags(cmd).FlagUsages())
			return nil
		},
	}
}
