//! The Win32 calls, and nothing else. `unsafe` is allowed in this module only: neither tokio,
//! windows-service nor a maintained crate offers a safe way to build a security descriptor from
//! SDDL, to look up an account's SID, to ask a pipe for its server's process id or to read a
//! process's image path (checked before writing this). Each block says why it is sound; every
//! buffer is owned by Rust, every system allocation is freed by `LocalBox`, every handle by
//! `OwnedHandle`, and no pointer outlives the function that made it.

use std::ffi::{OsStr, c_void};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::ptr;

use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, ERROR_NONE_MAPPED, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    LookupAccountNameW, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, SID_NAME_USE, SidTypeAlias,
};
use windows_sys::Win32::System::Pipes::GetNamedPipeServerProcessId;
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
};

/// A NUL-terminated UTF-16 copy of `text`.
fn wide(text: &OsStr) -> Vec<u16> {
    text.encode_wide().chain(Some(0)).collect()
}

/// Memory the system allocated for us with `LocalAlloc`, freed on drop.
struct LocalBox(*mut c_void);

impl Drop for LocalBox {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a Win32 call documented to allocate with LocalAlloc
            // and is freed exactly once, here.
            unsafe { LocalFree(self.0) };
        }
    }
}

/// Creates a pipe instance with the security descriptor written as `sddl`.
pub(crate) fn create_pipe(
    options: &ServerOptions,
    name: &OsStr,
    sddl: &str,
) -> io::Result<NamedPipeServer> {
    let sddl = wide(OsStr::new(sddl));
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `sddl` is NUL-terminated and lives across the call; `descriptor` is a valid out
    // pointer; the size out pointer may be null (documented as optional).
    let converted = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            ptr::null_mut(),
        )
    };
    if converted == 0 {
        return Err(io::Error::last_os_error());
    }
    let descriptor = LocalBox(descriptor);
    let mut attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES whose descriptor stays allocated until
    // `descriptor` drops after this call; CreateNamedPipeW reads both only during the call.
    unsafe { options.create_with_security_attributes_raw(name, (&raw mut attributes).cast()) }
}

/// An account found by name.
pub(crate) struct Account {
    /// Its SID in string form.
    pub(crate) sid: String,
    /// True when it is a local group (`SidTypeAlias`).
    pub(crate) local_group: bool,
}

/// Looks an account up by name on this machine; `None` when no account has that name.
pub(crate) fn lookup_account(name: &str) -> io::Result<Option<Account>> {
    let name = wide(OsStr::new(name));
    let mut sid_len = 0u32;
    let mut domain_len = 0u32;
    let mut kind: SID_NAME_USE = 0;
    // SAFETY: the size query: null buffers with zero lengths and valid out pointers, as
    // documented; the name is NUL-terminated.
    let found = unsafe {
        LookupAccountNameW(
            ptr::null(),
            name.as_ptr(),
            ptr::null_mut(),
            &mut sid_len,
            ptr::null_mut(),
            &mut domain_len,
            &mut kind,
        )
    };
    if found == 0 {
        let error = io::Error::last_os_error();
        match error.raw_os_error().map(|code| code as u32) {
            Some(ERROR_NONE_MAPPED) => return Ok(None),
            Some(ERROR_INSUFFICIENT_BUFFER) => {}
            _ => return Err(error),
        }
    }
    // u32 words: a SID is 4-byte aligned.
    let mut sid = vec![0u32; (sid_len as usize).div_ceil(4)];
    let mut domain = vec![0u16; domain_len as usize];
    // SAFETY: buffers at least as large as the first call asked for, their lengths passed with
    // them; all pointers valid for the call.
    let found = unsafe {
        LookupAccountNameW(
            ptr::null(),
            name.as_ptr(),
            sid.as_mut_ptr().cast(),
            &mut sid_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        )
    };
    if found == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut text: *mut u16 = ptr::null_mut();
    // SAFETY: `sid` holds the valid SID just written; `text` receives a LocalAlloc'd string.
    let converted = unsafe { ConvertSidToStringSidW(sid.as_mut_ptr().cast(), &mut text) };
    if converted == 0 {
        return Err(io::Error::last_os_error());
    }
    let owner = LocalBox(text.cast());
    let mut len = 0usize;
    // SAFETY: ConvertSidToStringSidW returned a NUL-terminated UTF-16 string; we read up to
    // and excluding the NUL, while `owner` keeps it allocated.
    let sid_text = unsafe {
        while *text.add(len) != 0 {
            len += 1;
        }
        String::from_utf16_lossy(std::slice::from_raw_parts(text, len))
    };
    drop(owner);
    Ok(Some(Account {
        sid: sid_text,
        local_group: kind == SidTypeAlias,
    }))
}

/// The process id of the server end of the pipe `pipe` (a connected client).
pub(crate) fn pipe_server_pid(pipe: &impl AsRawHandle) -> io::Result<u32> {
    let mut pid = 0u32;
    // SAFETY: the handle is borrowed from a live pipe client for the call; `pid` is a valid out
    // pointer.
    let ok = unsafe { GetNamedPipeServerProcessId(pipe.as_raw_handle(), &mut pid) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(pid)
}

/// The full image path of process `pid`.
pub(crate) fn process_image(pid: u32) -> io::Result<String> {
    // SAFETY: no pointers; returns null on failure.
    let raw = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a process handle just opened for us and owned by nobody else;
    // OwnedHandle closes it once.
    let process = unsafe { OwnedHandle::from_raw_handle(raw) };
    // The longest path Windows allows, in UTF-16 units.
    let mut buffer = vec![0u16; 32_768];
    let mut len = buffer.len() as u32;
    // SAFETY: `buffer` holds `len` units; on success `len` is set to the units written (without
    // the NUL), never more than the buffer.
    let ok = unsafe {
        QueryFullProcessImageNameW(
            process.as_raw_handle(),
            PROCESS_NAME_WIN32,
            buffer.as_mut_ptr(),
            &mut len,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(String::from_utf16_lossy(
        &buffer[..(len as usize).min(buffer.len())],
    ))
}
