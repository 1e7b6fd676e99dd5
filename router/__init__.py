"""Decides who acts: agent presence and routing, department dispatch rules, 110 linkage."""
