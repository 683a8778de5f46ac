//! `cairn::embed_migrations!` gives what the directory reader gives.

use std::path::Path;

static EXAMPLE: cairn::embed::EmbeddedMigrations = cairn::embed_migrations!("../../migrations");

#[test]
fn the_embedded_example_project_is_the_directory_read_from_disk() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let on_disk = cairn::source::read_dir(&dir).expect("the example project reads");
    let embedded = EXAMPLE
        .migrations()
        .expect("the embedded migrations assemble");
    assert_eq!(embedded.len(), on_disk.len());
    for (embedded, on_disk) in embedded.iter().zip(&on_disk) {
        assert_eq!(embedded.version, on_disk.version);
        assert_eq!(embedded.name, on_disk.name);
        assert_eq!(embedded.up, {
            // Paths differ (as written in the macro call vs absolute); the
            // texts, directives and checksums do not.
            let mut up = on_disk.up.clone();
            for script in up.plain.iter_mut().chain(up.overrides.values_mut()) {
                script.path = Path::new("../../migrations")
                    .join(script.path.strip_prefix(&dir).expect("under the directory"));
            }
            up
        });
        for engine in cairn::Engine::ALL {
            assert_eq!(embedded.checksum(engine), on_disk.checksum(engine));
        }
    }
    assert_eq!(EXAMPLE.dir(), "../../migrations");
    assert!(
        EXAMPLE
            .files()
            .iter()
            .all(|(path, _)| !path.ends_with(".md")),
        "only the files Cairn reads are embedded: {:?}",
        EXAMPLE.files()
    );
}
