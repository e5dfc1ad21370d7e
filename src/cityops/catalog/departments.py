"""Departments (处置单位) as the catalog's admin API and the responsibility list see them.

The table and the one implementation belong to accounts (``accounts/departments.py``); these
names stay so that ``catalog.service.create_department`` and friends keep working.
"""

from __future__ import annotations

from cityops.accounts.service import (
    DEPARTMENT_KINDS,
    create_department,
    department_names,
    get_department,
    list_departments,
    update_department,
)

__all__ = [
    "DEPARTMENT_KINDS",
    "create_department",
    "department_names",
    "get_department",
    "list_departments",
    "update_department",
]
