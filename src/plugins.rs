//! Every plugin this binary carries: the declarations of each plugin crate, collected once.
//! `forge build` runs their factories, the template loader their data sources, and
//! `forge internal compat-matrix` lists them.

use forge_core::plugin::PluginSet;

/// The declarations of every plugin crate linked into this binary.
pub fn all() -> PluginSet {
    PluginSet::merge([
        forge_core::builtin::plugins(),
        forge_provisioners::plugins(),
        forge_postprocessors::plugins(),
        forge_comm::plugins(),
        forge_docker::plugins(),
        forge_qemu::plugins(),
        forge_virtualbox::plugins(),
        forge_ansible::plugins(),
        forge_vsphere::plugins(),
        amazon(),
        google(),
    ])
}

#[cfg(feature = "amazon")]
fn amazon() -> PluginSet {
    forge_amazon::plugins()
}

/// Without the Amazon plugins, their types are known by schema only.
#[cfg(not(feature = "amazon"))]
fn amazon() -> PluginSet {
    use forge_core::plugin::PluginDecl;
    use forge_template::schema::{forge, plugins, PluginKind};
    PluginSet::of([
        PluginDecl::validate_only::<plugins::AmazonEbsBuilder>(PluginKind::Builder, "amazon-ebs")
            .from_plugin("github.com/hashicorp/amazon"),
        PluginDecl::validate_only::<forge::AmazonAmiManagementPostProcessor>(
            PluginKind::PostProcessor,
            "amazon-ami-management",
        ),
        PluginDecl::validate_only::<forge::AmazonAmiDataSource>(
            PluginKind::DataSource,
            "amazon-ami",
        ),
    ])
}

#[cfg(feature = "google")]
fn google() -> PluginSet {
    forge_google::plugins()
}

/// Without the Google plugins, googlecompute is known by schema only.
#[cfg(not(feature = "google"))]
fn google() -> PluginSet {
    use forge_core::plugin::PluginDecl;
    use forge_template::schema::{plugins, PluginKind};
    PluginSet::of([PluginDecl::validate_only::<plugins::GooglecomputeBuilder>(
        PluginKind::Builder,
        "googlecompute",
    )
    .from_plugin("github.com/hashicorp/googlecompute")])
}

#[cfg(test)]
mod tests {
    use forge_template::plugins::BUILTIN_PLUGINS;
    use forge_template::schema::{PluginKind, Registry as Schemas};

    use super::*;

    /// Lists every plugin type once, and fails when a type lacks its schema or its factory's
    /// kind is wrong, or when the declarations, the generated schemas and the plugin version
    /// list disagree (a schema or a version-list entry nothing declares, a type declared twice).
    #[test]
    fn every_plugin_type_is_declared_once_with_its_schema_and_factory() {
        let set = all();
        let mut listing = String::new();
        for d in &set.decls {
            listing.push_str(&format!(
                "{:?} {} {} {}\n",
                d.kind,
                d.type_name,
                if d.runs() { "build" } else { "validate" },
                d.plugin.unwrap_or("-")
            ));
        }
        let errs = set.check(Schemas::builtin(), BUILTIN_PLUGINS);
        assert!(errs.is_empty(), "{}\n\n{listing}", errs.join("\n"));
        // The runtime registry is made of exactly the declared factories.
        let r = set.registry();
        let runs = |k: PluginKind| set.decls.iter().filter(|d| d.kind == k && d.runs()).count();
        assert_eq!(r.builders.len(), runs(PluginKind::Builder));
        assert_eq!(r.provisioners.len(), runs(PluginKind::Provisioner));
        assert_eq!(r.post_processors.len(), runs(PluginKind::PostProcessor));
        assert_eq!(r.data_sources.len(), runs(PluginKind::DataSource));
        assert!(r.connectors.contains_key("ssh"));
    }

    #[test]
    fn the_check_finds_each_kind_of_disagreement() {
        use forge_core::plugin::PluginDecl;
        use forge_template::plugins::BuiltinPlugin;
        use forge_template::schema::plugins::{NullBuilder, ShellProvisioner};
        let mut set = all();
        assert!(set.check(Schemas::builtin(), BUILTIN_PLUGINS).is_empty());
        // A type declared twice, and one whose schema the registry lacks.
        set.decls.push(set.decls[0]);
        set.decls.push(PluginDecl::validate_only::<NullBuilder>(
            PluginKind::Builder,
            "no-such-builder",
        ));
        // A declaration pointing at another schema than the registry's.
        let sleep = set
            .decls
            .iter_mut()
            .find(|d| d.kind == PluginKind::Provisioner && d.type_name == "sleep")
            .unwrap();
        sleep.schema = <ShellProvisioner as forge_template::schema::ConfigStruct>::schema;
        // A schema nothing declares.
        set.decls
            .retain(|d| !(d.kind == PluginKind::PostProcessor && d.type_name == "checksum"));
        // A version-list entry nothing declares.
        let mut versions = BUILTIN_PLUGINS.to_vec();
        versions.push(BuiltinPlugin {
            source: "github.com/acme/acme",
            version: "1.0.0",
            components: &["acme"],
        });
        let errs = set.check(Schemas::builtin(), &versions).join("\n");
        for want in [
            "is declared twice",
            "\"no-such-builder\" has no schema in the registry",
            "\"sleep\" points at schema ShellProvisioner",
            "PostProcessor \"checksum\" has a schema but no declaration",
            "\"acme\" is in the version list (github.com/acme/acme) but no declaration has it",
        ] {
            assert!(errs.contains(want), "{want:?} missing from:\n{errs}");
        }
    }
}
