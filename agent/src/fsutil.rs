//! Private files and directories: the journal and logs hold personal data, so the data
//! directory is 0700 and every file in it 0600 on Unix, from creation. The one helper is
//! shared with the server: [`mask_private_file`]. On Windows the data directory under
//! ProgramData inherits its ACL (SYSTEM and Administrators) from the installer.

pub use mask_private_file::{create_private_dir, create_private_file, restrict_file};
