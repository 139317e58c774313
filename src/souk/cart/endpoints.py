"""JSON routes under /api/v1 for this domain."""

from fastapi import APIRouter

router = APIRouter()
