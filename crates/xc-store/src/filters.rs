//! Security groups, network ACLs and prefix lists (migration 0018). Rules and prefixes are kept
//! as JSON in their owner's row and read back into the checked types of `xc_types::filter`: a row
//! that no longer reads is reported as corrupt, never half used.

use crate::db::{from_json, json, parse};
use crate::sql::{OptionalExtension, params};
use crate::{Db, StoreError};
use xc_types::filter::{AclRule, SgRule};
use xc_types::{AccountId, AttachPointId, NetworkAclId, Prefix, PrefixListId, SecurityGroupId};

/// A security group, with the attach points it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRow {
    pub id: SecurityGroupId,
    pub account_id: AccountId,
    pub name: String,
    pub description: Option<String>,
    pub rules: Vec<SgRule>,
    pub attach_points: Vec<AttachPointId>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A network ACL of one attach point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAclRow {
    pub id: NetworkAclId,
    pub account_id: AccountId,
    pub attach_point: AttachPointId,
    pub name: String,
    pub rules: Vec<AclRule>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A prefix list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixListRow {
    pub id: PrefixListId,
    pub account_id: AccountId,
    pub name: String,
    pub prefixes: Vec<Prefix>,
    pub created_at: i64,
    pub updated_at: i64,
}

const GROUP_COLUMNS: &str = "id, account_id, name, description, rules, created_at, updated_at";
const ACL_COLUMNS: &str = "id, account_id, attach_point_id, name, rules, created_at, updated_at";
const LIST_COLUMNS: &str = "id, account_id, name, prefixes, created_at, updated_at";

type Read<T> = crate::sql::Result<Result<T, StoreError>>;

fn group_row(r: &crate::sql::Row<'_>) -> Read<SecurityGroupRow> {
    let (id, account, name): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let (description, rules): (Option<String>, String) = (r.get(3)?, r.get(4)?);
    let (created_at, updated_at) = (r.get(5)?, r.get(6)?);
    Ok((|| {
        Ok(SecurityGroupRow {
            id: parse(SecurityGroupId::parse(&id), "security group id")?,
            account_id: parse(AccountId::parse(&account), "account id")?,
            name,
            description,
            rules: from_json(&rules, "security group rules")?,
            attach_points: Vec::new(),
            created_at,
            updated_at,
        })
    })())
}

fn acl_row(r: &crate::sql::Row<'_>) -> Read<NetworkAclRow> {
    let (id, account, ap): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let (name, rules): (String, String) = (r.get(3)?, r.get(4)?);
    let (created_at, updated_at) = (r.get(5)?, r.get(6)?);
    Ok((|| {
        Ok(NetworkAclRow {
            id: parse(NetworkAclId::parse(&id), "network ACL id")?,
            account_id: parse(AccountId::parse(&account), "account id")?,
            attach_point: parse(AttachPointId::parse(&ap), "attach point id")?,
            name,
            rules: from_json(&rules, "network ACL rules")?,
            created_at,
            updated_at,
        })
    })())
}

fn list_row(r: &crate::sql::Row<'_>) -> Read<PrefixListRow> {
    let (id, account, name): (String, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let prefixes: String = r.get(3)?;
    let (created_at, updated_at) = (r.get(4)?, r.get(5)?);
    Ok((|| {
        Ok(PrefixListRow {
            id: parse(PrefixListId::parse(&id), "prefix list id")?,
            account_id: parse(AccountId::parse(&account), "account id")?,
            name,
            prefixes: from_json(&prefixes, "prefix list")?,
            created_at,
            updated_at,
        })
    })())
}

/// Rows read with `read`, each checked.
fn collect<T>(
    rows: impl Iterator<Item = crate::sql::Result<Result<T, StoreError>>>,
) -> Result<Vec<T>, StoreError> {
    rows.map(|r| r?).collect()
}

impl Db<'_> {
    /// Whether `name` is taken by another of the account's groups, ACLs or lists (`table` says
    /// which).
    fn name_taken(
        &self,
        table: Table,
        account: &AccountId,
        name: &str,
    ) -> Result<bool, StoreError> {
        let sql = match table {
            Table::Groups => "SELECT 1 FROM security_groups WHERE account_id = ?1 AND name = ?2",
            Table::Acls => "SELECT 1 FROM network_acls WHERE account_id = ?1 AND name = ?2",
            Table::Lists => "SELECT 1 FROM prefix_lists WHERE account_id = ?1 AND name = ?2",
        };
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_row(params![account.as_str(), name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    pub fn security_group_name_taken(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.name_taken(Table::Groups, account, name)
    }

    pub fn network_acl_name_taken(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.name_taken(Table::Acls, account, name)
    }

    pub fn prefix_list_name_taken(
        &self,
        account: &AccountId,
        name: &str,
    ) -> Result<bool, StoreError> {
        self.name_taken(Table::Lists, account, name)
    }

    pub fn insert_security_group(&self, g: &SecurityGroupRow) -> Result<(), StoreError> {
        self.conn.execute(
            &format!(
                "INSERT INTO security_groups ({GROUP_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                g.id.as_str(),
                g.account_id.as_str(),
                g.name,
                g.description,
                json(&g.rules),
                g.created_at,
                g.updated_at
            ],
        )?;
        for ap in &g.attach_points {
            self.attach_security_group(&g.id, ap, g.created_at)?;
        }
        Ok(())
    }

    /// A group with its attach points.
    pub fn security_group(
        &self,
        id: &SecurityGroupId,
    ) -> Result<Option<SecurityGroupRow>, StoreError> {
        let g = self
            .conn
            .prepare_cached(&format!(
                "SELECT {GROUP_COLUMNS} FROM security_groups WHERE id = ?1"
            ))?
            .query_row([id.as_str()], group_row)
            .optional()?
            .transpose()?;
        g.map(|g| self.with_attach_points(g)).transpose()
    }

    fn with_attach_points(&self, mut g: SecurityGroupRow) -> Result<SecurityGroupRow, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT attach_point_id FROM security_group_attachments WHERE group_id = ?1
             ORDER BY attached_at, attach_point_id",
        )?;
        g.attach_points = st
            .query_map([g.id.as_str()], |r| r.get::<_, String>(0))?
            .map(|id| parse(AttachPointId::parse(&id?), "attach point id"))
            .collect::<Result<_, _>>()?;
        Ok(g)
    }

    /// An account's groups, by name.
    pub fn security_groups_of_account(
        &self,
        account: &AccountId,
    ) -> Result<Vec<SecurityGroupRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM security_groups WHERE account_id = ?1 ORDER BY name"
        ))?;
        let groups = collect(st.query_map([account.as_str()], group_row)?)?;
        groups
            .into_iter()
            .map(|g| self.with_attach_points(g))
            .collect()
    }

    /// The groups attached to an attach point, in the order they were attached.
    pub fn security_groups_of_attach_point(
        &self,
        ap: &AttachPointId,
    ) -> Result<Vec<SecurityGroupRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT g.id, g.account_id, g.name, g.description, g.rules, g.created_at, g.updated_at
             FROM security_group_attachments a JOIN security_groups g ON g.id = a.group_id
             WHERE a.attach_point_id = ?1 ORDER BY a.attached_at, g.id",
        )?;
        let groups = collect(st.query_map([ap.to_string()], group_row)?)?;
        groups
            .into_iter()
            .map(|g| self.with_attach_points(g))
            .collect()
    }

    pub fn update_security_group_rules(
        &self,
        id: &SecurityGroupId,
        rules: &[SgRule],
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE security_groups SET rules = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), json(&rules), now],
        )?;
        Ok(())
    }

    /// Attaches a group; answers false when it already was.
    pub fn attach_security_group(
        &self,
        id: &SecurityGroupId,
        ap: &AttachPointId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "INSERT INTO security_group_attachments (attach_point_id, group_id, attached_at)
             VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![ap.to_string(), id.as_str(), now],
        )?;
        Ok(n == 1)
    }

    /// Detaches a group; answers false when it was not attached.
    pub fn detach_security_group(
        &self,
        id: &SecurityGroupId,
        ap: &AttachPointId,
    ) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM security_group_attachments WHERE attach_point_id = ?1 AND group_id = ?2",
            params![ap.to_string(), id.as_str()],
        )?;
        Ok(n == 1)
    }

    /// Deletes a group and its attachments.
    pub fn delete_security_group(&self, id: &SecurityGroupId) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM security_groups WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    pub fn insert_network_acl(&self, a: &NetworkAclRow) -> Result<(), StoreError> {
        self.conn.execute(
            &format!(
                "INSERT INTO network_acls ({ACL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                a.id.as_str(),
                a.account_id.as_str(),
                a.attach_point.to_string(),
                a.name,
                json(&a.rules),
                a.created_at,
                a.updated_at
            ],
        )?;
        Ok(())
    }

    pub fn network_acl(&self, id: &NetworkAclId) -> Result<Option<NetworkAclRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ACL_COLUMNS} FROM network_acls WHERE id = ?1"
            ))?
            .query_row([id.as_str()], acl_row)
            .optional()?
            .transpose()
    }

    /// The ACL of an attach point, if it has one.
    pub fn network_acl_of_attach_point(
        &self,
        ap: &AttachPointId,
    ) -> Result<Option<NetworkAclRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ACL_COLUMNS} FROM network_acls WHERE attach_point_id = ?1"
            ))?
            .query_row([ap.to_string()], acl_row)
            .optional()?
            .transpose()
    }

    /// An account's ACLs, by name.
    pub fn network_acls_of_account(
        &self,
        account: &AccountId,
    ) -> Result<Vec<NetworkAclRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {ACL_COLUMNS} FROM network_acls WHERE account_id = ?1 ORDER BY name"
        ))?;
        collect(st.query_map([account.as_str()], acl_row)?)
    }

    pub fn update_network_acl_rules(
        &self,
        id: &NetworkAclId,
        rules: &[AclRule],
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE network_acls SET rules = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), json(&rules), now],
        )?;
        Ok(())
    }

    pub fn delete_network_acl(&self, id: &NetworkAclId) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM network_acls WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    pub fn insert_prefix_list(&self, p: &PrefixListRow) -> Result<(), StoreError> {
        self.conn.execute(
            &format!("INSERT INTO prefix_lists ({LIST_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![
                p.id.as_str(),
                p.account_id.as_str(),
                p.name,
                json(&p.prefixes),
                p.created_at,
                p.updated_at
            ],
        )?;
        Ok(())
    }

    pub fn prefix_list(&self, id: &PrefixListId) -> Result<Option<PrefixListRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {LIST_COLUMNS} FROM prefix_lists WHERE id = ?1"
            ))?
            .query_row([id.as_str()], list_row)
            .optional()?
            .transpose()
    }

    /// An account's prefix lists, by name.
    pub fn prefix_lists_of_account(
        &self,
        account: &AccountId,
    ) -> Result<Vec<PrefixListRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {LIST_COLUMNS} FROM prefix_lists WHERE account_id = ?1 ORDER BY name"
        ))?;
        collect(st.query_map([account.as_str()], list_row)?)
    }

    /// Renames a list or replaces its prefixes.
    pub fn update_prefix_list(&self, p: &PrefixListRow) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE prefix_lists SET name = ?2, prefixes = ?3, updated_at = ?4 WHERE id = ?1",
            params![p.id.as_str(), p.name, json(&p.prefixes), p.updated_at],
        )?;
        Ok(())
    }

    pub fn delete_prefix_list(&self, id: &PrefixListId) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM prefix_lists WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Table {
    Groups,
    Acls,
    Lists,
}
